"""The shared training loop, the output-directory and manifest plumbing."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from instrument import places
from training.nets import ARCHS, NetConfig, StepNet

REPO = Path(__file__).resolve().parents[1]
EXPORT_DIR = places.SOURCE_MODELS_DIR
RUNS_DIR = REPO / "training" / "runs"


def common_arguments(parser: argparse.ArgumentParser, steps: int, hidden: int) -> None:
    parser.add_argument("--out", type=Path, default=EXPORT_DIR,
                        help="directory for NAME.onnx and NAME.json (default exported_models/)")
    parser.add_argument("--steps", type=int, default=steps, help="optimizer steps")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--max-len", type=int, default=128, help="longest training window")
    parser.add_argument("--hidden", type=int, default=hidden)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke run: a few tunes, a tiny net, a few steps (for CI)")
    parser.add_argument("--val-limit", type=int, default=0,
                        help="evaluate on at most this many validation tunes (0: all)")
    parser.add_argument("--arch", choices=ARCHS, default="gru",
                        help="streaming core: GRU, or Transformer with a cached window")
    parser.add_argument("--window", type=int, default=64,
                        help="transformer: steps visible to attention, this one included")
    parser.add_argument("--attention-heads", type=int, default=4, help="transformer heads")
    parser.add_argument("--checkpoint", type=Path, default=None, metavar="PATH",
                        help="save the training state here every 250 steps and resume from "
                             "it when it exists (removed when training ends)")
    parser.add_argument("--evaluate-only", action="store_true",
                        help="re-run the validation metrics of the model in --out with the "
                             "current runtime and rewrite its manifest's metrics")


def core_options(args: argparse.Namespace) -> dict:
    """The NetConfig fields the command line sets besides sizes."""
    return {"arch": args.arch, "window": args.window, "attention_heads": args.attention_heads}


def state_specs(cfg: NetConfig) -> tuple[list[dict], list[dict], list[dict]]:
    """Manifest entries for the streaming state: (inputs, outputs, state pairs)."""
    from training.onnx_export import state_tensors

    inputs, outputs, pairs = [], [], []
    for inp, out, shape, description in state_tensors(cfg):
        inputs.append({"name": inp, "shape": shape, "dtype": "float32",
                       "description": description})
        outputs.append({"name": out, "shape": shape, "dtype": "float32",
                        "description": f"{inp} for the next step"})
        pairs.append({"input": inp, "output": out})
    return inputs, outputs, pairs


def seed_everything(seed: int, threads: int) -> np.random.Generator:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return np.random.default_rng(seed)


def train(
    net: StepNet,
    loss_fn: Callable[[StepNet, np.random.Generator], torch.Tensor],
    steps: int,
    lr: float,
    rng: np.random.Generator,
    log_path: Path | None = None,
    desc: str = "train",
    monitor: Callable[[StepNet], dict] | None = None,
    monitor_every: int = 250,
    checkpoint: Path | None = None,
) -> dict:
    """AdamW with warm-up and cosine decay, gradient clipping; returns a short history.

    ``monitor(net)`` (eval mode, no grad) is logged every ``monitor_every`` steps and at
    the end, e.g. a held-out loss. With ``checkpoint``, the network, optimiser, schedule,
    random generators and history are saved there every ``monitor_every`` steps; a run
    that finds the file resumes after its step, drawing the same batches as an
    uninterrupted run would, and the file is removed at the end.
    """
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    warm = max(1, min(200, steps // 10))

    def schedule(i: int) -> float:
        if i < warm:
            return (i + 1) / warm
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (i - warm) / max(1, steps - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    net.train()
    t0 = time.time()
    history: list[dict] = []
    ema = None
    start = 0
    if checkpoint is not None and checkpoint.exists():
        start, ema, history, elapsed = _resume(checkpoint, net, opt, sched, rng)
        t0 -= elapsed
        tqdm.write(f"resumed from {checkpoint} at step {start}")
    log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115
    try:
        bar = tqdm(range(start, steps), desc=desc, unit="step", mininterval=2.0,
                   initial=start, total=steps)
        for i in bar:
            loss = loss_fn(net, rng)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            v = float(loss.detach())
            ema = v if ema is None else 0.98 * ema + 0.02 * v
            if i % 50 == 0 or i == steps - 1:
                bar.set_postfix(loss=f"{ema:.3f}")
                history.append({"step": i, "loss": round(ema, 4), "s": round(time.time() - t0, 1)})
                if monitor is not None and (i % monitor_every == 0 or i == steps - 1):
                    net.eval()
                    with torch.no_grad():
                        history[-1]["monitor"] = {k: round(v, 4) for k, v in monitor(net).items()}
                    net.train()
                    tqdm.write(f"step {i}: {history[-1]}")
                if log:
                    log.write(json.dumps(history[-1]) + "\n")
                    log.flush()
            if checkpoint is not None and (i + 1) % monitor_every == 0 and i + 1 < steps:
                _save_checkpoint(checkpoint, i + 1, ema, history, time.time() - t0,
                                 net, opt, sched, rng)
    finally:
        if log:
            log.close()
    if checkpoint is not None:
        checkpoint.unlink(missing_ok=True)
    net.eval()
    return {"steps": steps, "seconds": round(time.time() - t0, 1), "final_loss": ema,
            "history": history[-5:]}


def _save_checkpoint(path: Path, step: int, ema: float | None, history: list[dict],
                     elapsed: float, net: StepNet, opt, sched, rng: np.random.Generator) -> None:
    state = {"step": step, "ema": ema, "history": history, "elapsed": elapsed,
             "net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
             "numpy": rng.bit_generator.state, "torch": torch.get_rng_state()}
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def _resume(path: Path, net: StepNet, opt, sched,
            rng: np.random.Generator) -> tuple[int, float | None, list[dict], float]:
    state = torch.load(path, weights_only=False)
    net.load_state_dict(state["net"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    rng.bit_generator.state = state["numpy"]
    torch.set_rng_state(state["torch"])
    return state["step"], state["ema"], state["history"], state["elapsed"]


def environment() -> dict:
    import music21
    import onnx

    return {
        "torch": torch.__version__,
        "music21": music21.__version__,
        "onnx": onnx.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_threads": torch.get_num_threads(),
    }


def rounded(d):
    if isinstance(d, dict):
        return {k: rounded(v) for k, v in d.items()}
    if isinstance(d, float):
        return round(d, 4)
    return d
