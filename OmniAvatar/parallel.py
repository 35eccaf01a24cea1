"""Sequence parallelism's one piece the model needs: a rank's slice of the tokens and the
gather back (the launcher and FSDP sharding live in :mod:`OmniAvatar.distributed`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor


@dataclass
class SequenceParallel:
    """This rank's place in the sequence-parallel group."""

    rank: int
    world: int
    group: Any = None  # a ProcessGroup; None: the default group
    length: int = 0  # real (unpadded) tokens of the current forward

    def split(self, x: Tensor, dim: int = 1) -> Tensor:
        """This rank's contiguous slice of ``x`` along ``dim``, padded with zeros to N equal
        parts.
        """
        n = x.shape[dim]
        per = -(-n // self.world)
        if per * self.world != n:
            pad = [0, 0] * (x.ndim - dim - 1) + [0, per * self.world - n]
            x = torch.nn.functional.pad(x, pad)
        return x.narrow(dim, self.rank * per, per).contiguous()

    def gather(self, x: Tensor, length: int, dim: int = 1) -> Tensor:
        """Every rank's slice joined along ``dim``, cut back to ``length`` (no padding)."""
        parts = [torch.empty_like(x) for _ in range(self.world)]
        dist.all_gather(parts, x.contiguous(), group=self.group)
        return torch.cat(parts, dim=dim).narrow(dim, 0, length)
