import pytest

from tests.support.pyo_manual import manual_server


@pytest.fixture(autouse=True)
def pyo_server():
    """pyo objects need a booted server; these tests share one manual server."""
    return manual_server()
