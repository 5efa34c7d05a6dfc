"""The networks: integer columns through embeddings, float columns as they are, a
streaming core, and linear heads. Two cores share that frame:

- ``gru``: a GRU stack; the state is the hidden state of each layer.
- ``transformer``: a small pre-norm Transformer decoder over a sliding window of the last
  ``window`` steps. Attention is causal and limited to the window, with a linear recency
  bias per head (ALiBi: ``-slope_h * age``) instead of position embeddings, so a step
  needs only the keys and values of the previous ``window - 1`` steps: that cache is the
  state (plus which of its slots are filled), and each step costs the same.

:mod:`training.onnx_export` writes either as a one-step ONNX graph with the state as an
explicit input and output.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

ARCHS = ("gru", "transformer")


@dataclass
class NetConfig:
    int_vocab: list[int]  # vocabulary size per integer column
    int_dims: list[int]  # embedding width per integer column
    n_floats: int = 0
    hidden: int = 256  # GRU units, or the Transformer's model width
    layers: int = 2
    dropout: float = 0.1
    heads: dict[str, int] = field(default_factory=dict)  # output name -> classes
    arch: str = "gru"
    attention_heads: int = 4  # transformer only
    window: int = 64  # transformer only: steps visible to attention, this one included
    ffn: int = 4  # transformer only: feed-forward width as a multiple of ``hidden``

    def to_json(self) -> dict:
        return asdict(self)


def alibi_slopes(n_heads: int) -> torch.Tensor:
    """Recency slopes per head: a geometric series from 1/2 down (Press et al., ALiBi)."""
    return torch.tensor([2.0 ** (-8.0 * (h + 1) / n_heads) for h in range(n_heads)])


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, ffn * d)
        self.ff2 = nn.Linear(ffn * d, d)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """x [B,T,D]; bias [H,T,T] (recency bias, -inf where masked)."""
        B, T, D = x.shape
        h = self.heads
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=-1)
        q, k, v = (t.view(B, T, h, D // h).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-1, -2) / math.sqrt(D // h) + bias
        y = torch.softmax(scores, dim=-1) @ v
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, D)))
        return x + self.drop(self.ff2(torch.relu(self.ff1(self.ln2(x)))))


class StepNet(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        if cfg.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {cfg.arch!r}")
        self.cfg = cfg
        self.embeddings = nn.ModuleList(
            nn.Embedding(v, d) for v, d in zip(cfg.int_vocab, cfg.int_dims, strict=True)
        )
        d_in = sum(cfg.int_dims) + cfg.n_floats
        if cfg.arch == "gru":
            self.gru = nn.GRU(d_in, cfg.hidden, cfg.layers, batch_first=True,
                              dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        else:
            self.inp = nn.Linear(d_in, cfg.hidden)
            self.blocks = nn.ModuleList(
                _Block(cfg.hidden, cfg.attention_heads, cfg.ffn, cfg.dropout)
                for _ in range(cfg.layers)
            )
            self.ln_out = nn.LayerNorm(cfg.hidden)
            self.register_buffer("slopes", alibi_slopes(cfg.attention_heads), persistent=False)
        self.drop = nn.Dropout(cfg.dropout)
        self.heads = nn.ModuleDict({k: nn.Linear(cfg.hidden, v) for k, v in cfg.heads.items()})

    def _bias(self, T: int) -> torch.Tensor:
        i = torch.arange(T)
        age = (i[:, None] - i[None, :]).float()
        visible = (age >= 0) & (age < self.cfg.window)
        bias = -self.slopes[:, None, None] * age[None]
        return torch.where(visible[None], bias, torch.tensor(float("-inf")))

    def forward(
        self, ints: torch.Tensor, floats: torch.Tensor | None = None,
        h0: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """ints [B,T,C] (int64), floats [B,T,F] -> logits per head [B,T,V], and the GRU
        state [L,B,H] (None for the Transformer, which is trained on whole windows and
        streamed only in ONNX)."""
        parts = [emb(ints[..., i]) for i, emb in enumerate(self.embeddings)]
        if self.cfg.n_floats:
            parts.append(floats)
        x = torch.cat(parts, dim=-1)
        if self.cfg.arch == "gru":
            y, h = self.gru(x, h0)
        else:
            y, h = self.inp(x), None
            bias = self._bias(x.shape[1])
            for block in self.blocks:
                y = block(y, bias)
            y = self.ln_out(y)
        y = self.drop(y)
        return {k: head(y) for k, head in self.heads.items()}, h

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
