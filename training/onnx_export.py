"""Write a trained :class:`~training.nets.StepNet` as a one-step ONNX graph (opset 17).

The graph is built node by node with ``onnx.helper`` rather than traced, so it is
exactly the streaming step the runtime needs and does not depend on the torch exporter:

    ints [1, C] --Gather columns--> embeddings --Concat (+ floats [1, F])-->
    GRU layer 1 .. L (ONNX GRU, linear_before_reset=1, initial_h from state_in) -->
    linear heads -> logits [1, V] each;  final hidden states -> state_out [L, 1, H]

PyTorch orders GRU gates (r, z, n); ONNX orders them (z, r, h); the weights are
reordered here. :func:`check_against_torch` runs random steps through onnxruntime and
torch and fails if they differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from training.nets import StepNet

OPSET = 17
IR_VERSION = 8


def _gates_onnx(w: np.ndarray, hidden: int) -> np.ndarray:
    r, z, n = w[:hidden], w[hidden : 2 * hidden], w[2 * hidden :]
    return np.concatenate([z, r, n], axis=0)


def build_graph(
    net: StepNet,
    int_input: str,
    float_input: str | None,
    state_input: str = "state_in",
    state_output: str = "state_out",
    head_outputs: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """The one-step ONNX model of ``net`` (eval mode weights)."""
    cfg = net.cfg
    H, L = cfg.hidden, cfg.layers
    head_outputs = head_outputs or {k: f"{k}_logits" for k in cfg.heads}
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def const(name: str, arr: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(arr, name))
        return name

    sd = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    parts = []
    for i in range(len(cfg.int_vocab)):
        idx = const(f"col{i}", np.array(i, dtype=np.int64))
        table = const(f"emb{i}", sd[f"embeddings.{i}.weight"].astype(np.float32))
        nodes.append(helper.make_node("Gather", [int_input, idx], [f"id{i}"], axis=1))
        nodes.append(helper.make_node("Gather", [table, f"id{i}"], [f"e{i}"], axis=0))
        parts.append(f"e{i}")
    if cfg.n_floats:
        parts.append(float_input)
    nodes.append(helper.make_node("Concat", parts, ["x0"], axis=1))  # [1, D]
    axes0 = const("axes0", np.array([0], dtype=np.int64))
    nodes.append(helper.make_node("Unsqueeze", ["x0", axes0], ["x"]))  # [1(seq), 1, D]
    layer_in = "x"
    finals = []
    for layer in range(L):
        w = _gates_onnx(sd[f"gru.weight_ih_l{layer}"], H)[None].astype(np.float32)
        r = _gates_onnx(sd[f"gru.weight_hh_l{layer}"], H)[None].astype(np.float32)
        b_ih = _gates_onnx(sd[f"gru.bias_ih_l{layer}"], H)
        b_hh = _gates_onnx(sd[f"gru.bias_hh_l{layer}"], H)
        b = np.concatenate([b_ih, b_hh])[None].astype(np.float32)
        li = const(f"layer{layer}", np.array([layer], dtype=np.int64))
        nodes.append(helper.make_node("Gather", [state_input, li], [f"h{layer}"], axis=0))
        nodes.append(
            helper.make_node(
                "GRU",
                [layer_in, const(f"W{layer}", w), const(f"R{layer}", r), const(f"B{layer}", b),
                 "", f"h{layer}"],
                [f"y{layer}", f"hn{layer}"],
                hidden_size=H,
                linear_before_reset=1,
            )
        )
        axes1 = const(f"axes1_{layer}", np.array([1], dtype=np.int64))
        nodes.append(helper.make_node("Squeeze", [f"y{layer}", axes1], [f"yl{layer}"]))
        layer_in = f"yl{layer}"  # [1(seq), 1, H]
        finals.append(f"hn{layer}")
    nodes.append(helper.make_node("Concat", finals, [state_output], axis=0))
    shape_1h = const("shape_1h", np.array([1, H], dtype=np.int64))
    nodes.append(helper.make_node("Reshape", [finals[-1], shape_1h], ["top"]))
    outputs = []
    for name, classes in cfg.heads.items():
        wt = const(f"{name}_w", sd[f"heads.{name}.weight"].T.copy().astype(np.float32))
        bias = const(f"{name}_b", sd[f"heads.{name}.bias"].astype(np.float32))
        out = head_outputs[name]
        nodes.append(helper.make_node("Gemm", ["top", wt, bias], [out]))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, classes]))
    outputs.append(helper.make_tensor_value_info(state_output, TensorProto.FLOAT, [L, 1, H]))
    inputs = [helper.make_tensor_value_info(int_input, TensorProto.INT64,
                                            [1, len(cfg.int_vocab)])]
    if cfg.n_floats:
        inputs.append(helper.make_tensor_value_info(float_input, TensorProto.FLOAT,
                                                    [1, cfg.n_floats]))
    inputs.append(helper.make_tensor_value_info(state_input, TensorProto.FLOAT, [L, 1, H]))
    graph = helper.make_graph(nodes, "step", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="instrument-training")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())


def check_against_torch(
    net: StepNet, model: onnx.ModelProto, int_input: str, float_input: str | None,
    steps: int = 20, seed: int = 0, atol: float = 1e-4,
) -> float:
    """Run ``steps`` random steps through both; raise if any logit differs by > atol."""
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    cfg = net.cfg
    net.eval()
    state = np.zeros((cfg.layers, 1, cfg.hidden), dtype=np.float32)
    h = None
    worst = 0.0
    names = [o.name for o in sess.get_outputs()]
    for _ in range(steps):
        ints = np.array([[rng.integers(v) for v in cfg.int_vocab]], dtype=np.int64)
        floats = rng.random((1, cfg.n_floats)).astype(np.float32)
        feeds = {int_input: ints, "state_in": state}
        if cfg.n_floats:
            feeds[float_input] = floats
        out = dict(zip(names, sess.run(names, feeds), strict=True))
        with torch.no_grad():
            logits, h = net(torch.from_numpy(ints)[:, None],
                            torch.from_numpy(floats)[:, None] if cfg.n_floats else None, h)
        for k, v in logits.items():
            worst = max(worst, float(np.abs(out[f"{k}_logits"] - v[:, 0].numpy()).max()))
        state = out["state_out"]
        worst = max(worst, float(np.abs(state - h.numpy()).max()))
    if worst > atol:
        raise AssertionError(f"ONNX and torch differ by {worst} (> {atol})")
    return worst
