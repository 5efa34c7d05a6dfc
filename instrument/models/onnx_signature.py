"""Read an ONNX file's graph inputs, outputs and opset without onnx or onnxruntime.

The loader checks a model's signature against its manifest *before* a session is
created (a TensorRT session can spend minutes building an engine for the wrong file).
The runtime does not depend on the ``onnx`` package, so this walks the protobuf wire
format directly, reading only the fields it needs:

ModelProto: opset_import = 8, graph = 7. GraphProto: initializer = 5, input = 11,
output = 12. ValueInfoProto: name = 1, type = 2. TypeProto: tensor_type = 1.
TypeProto.Tensor: elem_type = 1, shape = 2. TensorShapeProto: dim = 1.
Dimension: dim_value = 1, dim_param = 2. OperatorSetIdProto: domain = 1, version = 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

#: ONNX TensorProto.DataType codes for the dtypes the manifests use.
ELEM_TYPES = {1: "float32", 7: "int64", 6: "int32", 10: "float16", 11: "float64", 9: "bool"}


class SignatureError(ValueError):
    """The bytes are not an ONNX model this reader understands."""


@dataclass(frozen=True)
class ValueInfo:
    name: str
    dtype: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class OnnxSignature:
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    opset: int | None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise SignatureError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise SignatureError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) for each field of one message."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > len(buf):
                raise SignatureError("truncated field")
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise SignatureError(f"unsupported wire type {wire}")


def _value_info(buf: bytes) -> ValueInfo:
    name, dtype, shape = "", "unknown", []
    for num, _, val in _fields(buf):
        if num == 1 and isinstance(val, bytes):
            name = val.decode("utf-8")
        elif num == 2 and isinstance(val, bytes):
            for tnum, _, tval in _fields(val):
                if tnum != 1 or not isinstance(tval, bytes):
                    continue  # not a tensor type
                for fnum, _, fval in _fields(tval):
                    if fnum == 1 and isinstance(fval, int):
                        dtype = ELEM_TYPES.get(fval, f"elem_type {fval}")
                    elif fnum == 2 and isinstance(fval, bytes):
                        for dnum, _, dval in _fields(fval):
                            if dnum == 1 and isinstance(dval, bytes):
                                dim: int | str = "?"
                                for xnum, _, xval in _fields(dval):
                                    if xnum == 1 and isinstance(xval, int):
                                        dim = xval
                                    elif xnum == 2 and isinstance(xval, bytes):
                                        dim = xval.decode("utf-8")
                                shape.append(dim)
    return ValueInfo(name, dtype, tuple(shape))


def read_signature(data: bytes) -> OnnxSignature:
    """The graph inputs (initializers excluded), outputs and default-domain opset."""
    graph = None
    opset = None
    for num, _, val in _fields(data):
        if num == 7 and isinstance(val, bytes):
            graph = val
        elif num == 8 and isinstance(val, bytes):
            domain, version = "", None
            for onum, _, oval in _fields(val):
                if onum == 1 and isinstance(oval, bytes):
                    domain = oval.decode("utf-8")
                elif onum == 2 and isinstance(oval, int):
                    version = oval
            if domain in ("", "ai.onnx"):
                opset = version
    if graph is None:
        raise SignatureError("no graph in the file")
    inputs, outputs, initializers = [], [], set()
    for num, _, val in _fields(graph):
        if not isinstance(val, bytes):
            continue
        if num == 11:
            inputs.append(_value_info(val))
        elif num == 12:
            outputs.append(_value_info(val))
        elif num == 5:
            for inum, _, ival in _fields(val):
                if inum == 8 and isinstance(ival, bytes):  # TensorProto.name
                    initializers.add(ival.decode("utf-8"))
    inputs = [v for v in inputs if v.name not in initializers]
    return OnnxSignature(tuple(inputs), tuple(outputs), opset)
