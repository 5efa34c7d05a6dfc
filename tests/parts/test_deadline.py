"""Model steps with a deadline: a late step is a miss and the fallback plays."""

import time

from instrument.parts.deadline import DeadlineRunner


def test_a_step_done_in_time_is_used_a_late_one_is_counted_as_a_miss():
    runner = DeadlineRunner("test", time.monotonic)
    try:
        quick = runner.submit(lambda: "neural")
        assert runner.take(quick, time.monotonic() + 1.0) == "neural"
        slow = runner.submit(lambda: time.sleep(0.2) or "late")
        assert runner.take(slow, time.monotonic() + 0.01) is None
        assert runner.stats.steps == 2 and runner.stats.misses == 1
        # The late step still completes (the model's state stays right).
        assert slow.result(timeout=1.0) == "late"
        summary = runner.stats.summary()
        assert summary["misses"] == 1 and summary["max_ms"] >= 150
    finally:
        runner.close()


def test_a_step_that_raises_counts_as_a_miss():
    runner = DeadlineRunner("test", time.monotonic)
    try:
        broken = runner.submit(lambda: 1 / 0)
        assert runner.take(broken, time.monotonic() + 1.0) is None
        assert runner.stats.misses == 1
    finally:
        runner.close()


def test_steps_run_in_submission_order():
    runner = DeadlineRunner("test", time.monotonic)
    order = []
    try:
        futures = [runner.submit(lambda i=i: order.append(i)) for i in range(20)]
        futures[-1].result(timeout=2)
        assert order == list(range(20))
    finally:
        runner.close()
