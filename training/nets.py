"""The networks: integer columns through embeddings, float columns as they are, a GRU
stack, and linear heads. The same structure serves both models, and
:mod:`training.onnx_export` writes it as a one-step ONNX graph with the GRU state as an
explicit input and output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn


@dataclass
class NetConfig:
    int_vocab: list[int]  # vocabulary size per integer column
    int_dims: list[int]  # embedding width per integer column
    n_floats: int = 0
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.1
    heads: dict[str, int] = field(default_factory=dict)  # output name -> classes

    def to_json(self) -> dict:
        return asdict(self)


class StepNet(nn.Module):
    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = nn.ModuleList(
            nn.Embedding(v, d) for v, d in zip(cfg.int_vocab, cfg.int_dims, strict=True)
        )
        d_in = sum(cfg.int_dims) + cfg.n_floats
        self.gru = nn.GRU(d_in, cfg.hidden, cfg.layers, batch_first=True,
                          dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.drop = nn.Dropout(cfg.dropout)
        self.heads = nn.ModuleDict({k: nn.Linear(cfg.hidden, v) for k, v in cfg.heads.items()})

    def forward(
        self, ints: torch.Tensor, floats: torch.Tensor | None = None,
        h0: torch.Tensor | None = None,
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """ints [B,T,C] (int64), floats [B,T,F] -> logits per head [B,T,V], state [L,B,H]."""
        parts = [emb(ints[..., i]) for i, emb in enumerate(self.embeddings)]
        if self.cfg.n_floats:
            parts.append(floats)
        x = torch.cat(parts, dim=-1)
        y, h = self.gru(x, h0)
        y = self.drop(y)
        return {k: head(y) for k, head in self.heads.items()}, h

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
