"""Write a trained :class:`~training.nets.StepNet` as a one-step ONNX graph (opset 17).

The graph is built node by node with ``onnx.helper`` rather than traced, so it is
exactly the streaming step the runtime needs and does not depend on the torch exporter.
GRU core:

    ints [1, C] --Gather columns--> embeddings --Concat (+ floats [1, F])-->
    GRU layer 1 .. L (ONNX GRU, linear_before_reset=1, initial_h from state_in) -->
    linear heads -> logits [1, V] each;  final hidden states -> state_out [L, 1, H]

PyTorch orders GRU gates (r, z, n); ONNX orders them (z, r, h); the weights are
reordered here. Transformer core: the same embeddings, then per layer LayerNorm,
q/k/v projections, attention of this step's query over the cached keys and values of the
previous ``window - 1`` steps plus its own (``state_in`` [L, 2, window - 1, D]; empty
slots masked by ``valid_in`` [1, window - 1], which starts at zeros as every state
does), the ALiBi recency bias as a constant, the feed-forward block; the caches shifted
by one step come out as ``state_out`` and ``valid_out``. :func:`state_tensors` lists the
state pairs for the manifest. :func:`check_against_torch` runs random steps through
onnxruntime and torch and fails if they differ.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from training.nets import NetConfig, StepNet

OPSET = 17
IR_VERSION = 8


def _gates_onnx(w: np.ndarray, hidden: int) -> np.ndarray:
    r, z, n = w[:hidden], w[hidden : 2 * hidden], w[2 * hidden :]
    return np.concatenate([z, r, n], axis=0)


def state_tensors(cfg: NetConfig) -> list[tuple[str, str, list[int], str]]:
    """(input, output, shape, description) of each streaming state of the ONNX step."""
    if cfg.arch == "gru":
        return [("state_in", "state_out", [cfg.layers, 1, cfg.hidden],
                 "GRU state from the previous step (zeros to start)")]
    w = cfg.window - 1
    return [
        ("state_in", "state_out", [cfg.layers, 2, w, cfg.hidden],
         f"attention keys and values of the previous {w} steps, per layer (zeros to start)"),
        ("valid_in", "valid_out", [1, w], "1 where a cached step exists (zeros to start)"),
    ]


def build_graph(
    net: StepNet,
    int_input: str,
    float_input: str | None,
    state_input: str = "state_in",
    state_output: str = "state_out",
    head_outputs: dict[str, str] | None = None,
) -> onnx.ModelProto:
    """The one-step ONNX model of ``net`` (eval mode weights)."""
    if net.cfg.arch == "transformer":
        return _build_transformer(net, int_input, float_input, head_outputs)
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


class _Graph:
    """Nodes and initializers of a graph being written."""

    def __init__(self) -> None:
        self.inits: list[onnx.TensorProto] = []
        self.nodes: list[onnx.NodeProto] = []

    def const(self, name: str, arr: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], **attrs))
        return output

    def i64(self, name: str, values: list[int]) -> str:
        return self.const(name, np.array(values, dtype=np.int64))


def _embed(g: _Graph, sd: dict, cfg: NetConfig, int_input: str, float_input: str | None) -> str:
    parts = []
    for i in range(len(cfg.int_vocab)):
        idx = g.const(f"col{i}", np.array(i, dtype=np.int64))
        table = g.const(f"emb{i}", sd[f"embeddings.{i}.weight"].astype(np.float32))
        g.node("Gather", [int_input, idx], f"id{i}", axis=1)
        parts.append(g.node("Gather", [table, f"id{i}"], f"e{i}", axis=0))
    if cfg.n_floats:
        parts.append(float_input)
    return g.node("Concat", parts, "x0", axis=1)  # [1, D_in]


def _linear(g: _Graph, sd: dict, x: str, prefix: str, out: str) -> str:
    w = g.const(f"{prefix}.w", sd[f"{prefix}.weight"].T.copy().astype(np.float32))
    b = g.const(f"{prefix}.b", sd[f"{prefix}.bias"].astype(np.float32))
    return g.node("Gemm", [x, w, b], out)


def _layer_norm(g: _Graph, sd: dict, x: str, prefix: str, out: str) -> str:
    gamma = g.const(f"{prefix}.g", sd[f"{prefix}.weight"].astype(np.float32))
    beta = g.const(f"{prefix}.b", sd[f"{prefix}.bias"].astype(np.float32))
    return g.node("LayerNormalization", [x, gamma, beta], out, axis=-1, epsilon=1e-5)


def _build_transformer(net: StepNet, int_input: str, float_input: str | None,
                       head_outputs: dict[str, str] | None) -> onnx.ModelProto:
    cfg = net.cfg
    D, L, H, W = cfg.hidden, cfg.layers, cfg.attention_heads, cfg.window
    dh = D // H
    head_outputs = head_outputs or {k: f"{k}_logits" for k in cfg.heads}
    sd = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
    g = _Graph()
    x = _linear(g, sd, _embed(g, sd, cfg, int_input, float_input), "inp", "h_in")  # [1, D]
    slopes = net.slopes.numpy().astype(np.float64)
    age = np.arange(W - 1, -1, -1, dtype=np.float64)  # slot s of [cache..., now]
    g.const("alibi", (-slopes[:, None, None] * age[None, None, :]).astype(np.float32))
    g.const("scale", np.array(1.0 / np.sqrt(dh), dtype=np.float32))
    g.const("one", np.ones((1, 1), dtype=np.float32))
    g.const("big", np.array(1e9, dtype=np.float32))
    g.i64("ax0", [0])
    g.i64("s1", [1])
    g.i64("sW", [W])
    g.i64("s_q", [1, H, dh])
    g.i64("s_kv", [W, H, dh])
    g.i64("s_d", [1, D])
    g.node("Concat", ["valid_in", "one"], "valid_all", axis=1)  # [1, W]
    g.node("Slice", ["valid_all", "s1", "sW", "s1"], "valid_out")  # axes [1]
    g.node("Sub", ["valid_all", "one"], "invalid")
    g.node("Mul", ["invalid", "big"], "mask")  # 0 valid, -1e9 empty
    caches = []
    for layer in range(L):
        p = f"blocks.{layer}"
        g.node("Gather", ["state_in", g.const(f"l{layer}", np.array(layer, dtype=np.int64))],
               f"c{layer}", axis=0)  # [2, W-1, D]
        a = _layer_norm(g, sd, x, f"{p}.ln1", f"a{layer}")
        qkv_w, qkv_b = sd[f"{p}.qkv.weight"], sd[f"{p}.qkv.bias"]
        proj = {}
        for j, name in enumerate("qkv"):
            sd[f"{p}.{name}.weight"] = qkv_w[j * D:(j + 1) * D]
            sd[f"{p}.{name}.bias"] = qkv_b[j * D:(j + 1) * D]
            proj[name] = _linear(g, sd, a, f"{p}.{name}", f"{name}{layer}")  # [1, D]
        merged = {}
        for j, name in enumerate("kv"):
            old = g.node("Gather", [f"c{layer}", g.const(f"{name}i{layer}",
                                                         np.array(j, dtype=np.int64))],
                         f"{name}old{layer}", axis=0)  # [W-1, D]
            merged[name] = g.node("Concat", [old, proj[name]], f"{name}all{layer}", axis=0)
            g.node("Slice", [merged[name], "s1", "sW", "ax0"], f"{name}new{layer}")
            g.node("Unsqueeze", [f"{name}new{layer}", "ax0"], f"{name}c{layer}")
        g.node("Concat", [f"kc{layer}", f"vc{layer}"], f"cache{layer}", axis=0)
        g.node("Unsqueeze", [f"cache{layer}", "ax0"], f"cacheu{layer}")
        caches.append(f"cacheu{layer}")
        g.node("Reshape", [proj["q"], "s_q"], f"qr{layer}")
        g.node("Transpose", [f"qr{layer}"], f"qh{layer}", perm=[1, 0, 2])  # [H, 1, dh]
        g.node("Reshape", [merged["k"], "s_kv"], f"kr{layer}")
        g.node("Transpose", [f"kr{layer}"], f"kh{layer}", perm=[1, 2, 0])  # [H, dh, W]
        g.node("Reshape", [merged["v"], "s_kv"], f"vr{layer}")
        g.node("Transpose", [f"vr{layer}"], f"vh{layer}", perm=[1, 0, 2])  # [H, W, dh]
        g.node("MatMul", [f"qh{layer}", f"kh{layer}"], f"sc{layer}")  # [H, 1, W]
        g.node("Mul", [f"sc{layer}", "scale"], f"ss{layer}")
        g.node("Add", [f"ss{layer}", "alibi"], f"sb{layer}")
        g.node("Add", [f"sb{layer}", "mask"], f"sm{layer}")
        g.node("Softmax", [f"sm{layer}"], f"pr{layer}", axis=-1)
        g.node("MatMul", [f"pr{layer}", f"vh{layer}"], f"ya{layer}")  # [H, 1, dh]
        g.node("Transpose", [f"ya{layer}"], f"yt{layer}", perm=[1, 0, 2])  # [1, H, dh]
        g.node("Reshape", [f"yt{layer}", "s_d"], f"y{layer}")
        _linear(g, sd, f"y{layer}", f"{p}.proj", f"o{layer}")
        x1 = g.node("Add", [x, f"o{layer}"], f"x1_{layer}")
        b = _layer_norm(g, sd, x1, f"{p}.ln2", f"b{layer}")
        _linear(g, sd, b, f"{p}.ff1", f"f1{layer}")
        g.node("Relu", [f"f1{layer}"], f"fr{layer}")
        _linear(g, sd, f"fr{layer}", f"{p}.ff2", f"f2{layer}")
        x = g.node("Add", [x1, f"f2{layer}"], f"x2_{layer}")
    g.node("Concat", caches, "state_out", axis=0)
    top = _layer_norm(g, sd, x, "ln_out", "top")
    outputs = []
    for name, classes in cfg.heads.items():
        _linear(g, sd, top, f"heads.{name}", head_outputs[name])
        outputs.append(helper.make_tensor_value_info(head_outputs[name], TensorProto.FLOAT,
                                                     [1, classes]))
    inputs = [helper.make_tensor_value_info(int_input, TensorProto.INT64,
                                            [1, len(cfg.int_vocab)])]
    if cfg.n_floats:
        inputs.append(helper.make_tensor_value_info(float_input, TensorProto.FLOAT,
                                                    [1, cfg.n_floats]))
    for inp, out, shape, _ in state_tensors(cfg):
        inputs.append(helper.make_tensor_value_info(inp, TensorProto.FLOAT, shape))
        outputs.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, shape))
    graph = helper.make_graph(g.nodes, "step", inputs, outputs, g.inits)
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
    """Run ``steps`` random steps through both; raise if any logit differs by > atol.

    The GRU is stepped in torch with its state; the Transformer is run in torch on the
    whole sequence so far (its last position is the step), so the ONNX cache and window
    are checked against the training-time computation.
    """
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    cfg = net.cfg
    net.eval()
    state = {inp: np.zeros(shape, dtype=np.float32) for inp, _, shape, _ in state_tensors(cfg)}
    pairs = [(inp, out) for inp, out, _, _ in state_tensors(cfg)]
    h = None
    seen_ints, seen_floats = [], []
    worst = 0.0
    names = [o.name for o in sess.get_outputs()]
    for _ in range(steps):
        ints = np.array([[rng.integers(v) for v in cfg.int_vocab]], dtype=np.int64)
        floats = rng.random((1, cfg.n_floats)).astype(np.float32)
        feeds = {int_input: ints, **state}
        if cfg.n_floats:
            feeds[float_input] = floats
        out = dict(zip(names, sess.run(names, feeds), strict=True))
        with torch.no_grad():
            if cfg.arch == "gru":
                logits, h = net(torch.from_numpy(ints)[:, None],
                                torch.from_numpy(floats)[:, None] if cfg.n_floats else None, h)
                last = {k: v[:, -1] for k, v in logits.items()}
            else:
                seen_ints.append(ints)
                seen_floats.append(floats)
                x = torch.from_numpy(np.stack(seen_ints, axis=1))
                f = torch.from_numpy(np.stack(seen_floats, axis=1)) if cfg.n_floats else None
                logits, _ = net(x, f)
                last = {k: v[:, -1] for k, v in logits.items()}
        for k, v in last.items():
            worst = max(worst, float(np.abs(out[f"{k}_logits"] - v.numpy()).max()))
        state = {inp: out[outp] for inp, outp in pairs}
        if cfg.arch == "gru":
            worst = max(worst, float(np.abs(state["state_in"] - h.numpy()).max()))
    if worst > atol:
        raise AssertionError(f"ONNX and torch differ by {worst} (> {atol})")
    return worst


def gru_net_from_graph(model: onnx.ModelProto, cfg: NetConfig) -> StepNet:
    """The training graph (a :class:`StepNet`, eval mode) of an exported GRU step, its
    weights read back from the ONNX initializers (the inverse of :func:`build_graph`), so
    a shipped model can be checked against the network it was exported from."""
    if cfg.arch != "gru":
        raise ValueError("only GRU step graphs can be read back")
    H = cfg.hidden
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}

    def torch_gates(w: np.ndarray) -> np.ndarray:  # ONNX (z, r, h) -> torch (r, z, n)
        z, r, n = w[:H], w[H : 2 * H], w[2 * H :]
        return np.concatenate([r, z, n], axis=0)

    sd: dict[str, np.ndarray] = {}
    for i in range(len(cfg.int_vocab)):
        sd[f"embeddings.{i}.weight"] = init[f"emb{i}"]
    for layer in range(cfg.layers):
        sd[f"gru.weight_ih_l{layer}"] = torch_gates(init[f"W{layer}"][0])
        sd[f"gru.weight_hh_l{layer}"] = torch_gates(init[f"R{layer}"][0])
        b = init[f"B{layer}"][0]
        sd[f"gru.bias_ih_l{layer}"] = torch_gates(b[: 3 * H])
        sd[f"gru.bias_hh_l{layer}"] = torch_gates(b[3 * H :])
    for name in cfg.heads:
        sd[f"heads.{name}.weight"] = init[f"{name}_w"].T
        sd[f"heads.{name}.bias"] = init[f"{name}_b"]
    net = StepNet(cfg)
    net.load_state_dict({k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in sd.items()})
    return net.eval()
