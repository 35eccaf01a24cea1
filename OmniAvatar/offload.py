"""The resident-parameter budget of the DiT (the published ``num_persistent_param_in_dit``).

The DiT's stem (patch, text and timestep embeddings, head, audio modules: ~1–2 % of its
parameters) always stays on the compute device. Whole blocks, from the first, stay there too
while their parameters fit the budget that is left; every other block keeps its weights in
host memory (pinned on CUDA) and is copied to the device just before it runs and dropped right
after, once per DiT pass. On CUDA the next streamed block is copied on a side stream while the
current block (resident or streamed) computes, so at most two streamed blocks are on the
device at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class ResidentPlan:
    """Which DiT blocks stay on the device and which stream in per pass."""

    stem_params: int
    block_params: tuple[int, ...]
    resident_blocks: tuple[int, ...]

    @property
    def streamed_blocks(self) -> tuple[int, ...]:
        resident = set(self.resident_blocks)
        return tuple(i for i in range(len(self.block_params)) if i not in resident)

    @property
    def resident_params(self) -> int:
        return self.stem_params + sum(self.block_params[i] for i in self.resident_blocks)

    @property
    def streamed_params(self) -> int:
        return sum(self.block_params[i] for i in self.streamed_blocks)

    def peak_device_params(self, buffers: int = 2) -> int:
        """Resident parameters + the streamed blocks in flight (current + prefetched)."""
        streamed = sorted((self.block_params[i] for i in self.streamed_blocks), reverse=True)
        return self.resident_params + sum(streamed[:buffers])


def plan_resident_blocks(
    block_params: Sequence[int], stem_params: int, budget: int | None
) -> ResidentPlan:
    """Keep blocks 0, 1, … resident while stem + their parameters fit ``budget``.

    ``budget`` counts DiT parameters on the device; None keeps every block. The stem is
    resident whatever the budget (every pass needs it and it is small).
    """
    if budget is not None and budget < 0:
        raise ValueError(f"resident parameter budget must be >= 0 or None, got {budget}")
    blocks = tuple(int(n) for n in block_params)
    if budget is None:
        return ResidentPlan(stem_params, blocks, tuple(range(len(blocks))))
    resident: list[int] = []
    used = stem_params
    for i, n in enumerate(blocks):
        if used + n > budget:
            break
        resident.append(i)
        used += n
    return ResidentPlan(stem_params, blocks, tuple(resident))


class BlockStreamer:
    """Moves streamed blocks' weights between host memory and the device around each use.

    Each streamed parameter keeps a host ("master") copy; ``before_block`` swaps the
    parameter's data for a fresh device copy, ``after_block`` swaps the master back, so the
    device copy is freed as soon as the kernels using it are done. The copy is always a new
    tensor (also when the device is the CPU), so the mechanism is the same in CPU tests.
    """

    def __init__(
        self,
        blocks: nn.ModuleList,
        plan: ResidentPlan,
        device: torch.device,
        prefetch: bool = True,
    ) -> None:
        self.plan = plan
        self.device = device
        self.streamed = plan.streamed_blocks
        # the streamed block to prefetch while block i runs: the next one after i, if any
        self._next = {
            i: next((j for j in self.streamed if j > i), None) for i in range(len(blocks))
        }
        cuda = device.type == "cuda"
        self.masters: dict[int, list[tuple[nn.Parameter, Tensor]]] = {}
        for i in self.streamed:
            pairs = []
            for p in blocks[i].parameters():
                host = p.data.to("cpu")
                if cuda:  # page-locked: the copy to the GPU can run asynchronously
                    host = host.pin_memory()
                p.data = host
                pairs.append((p, host))
            self.masters[i] = pairs
        self.copy_stream = torch.cuda.Stream(device) if cuda and prefetch else None
        self.prefetch = prefetch
        self._pending: dict[int, tuple[list[Tensor], torch.cuda.Event | None]] = {}
        self.loads = 0  # block copies made (one per streamed block per DiT pass)

    def _copy(self, i: int, stream: torch.cuda.Stream | None) -> None:
        if stream is None:
            copies = [m.to(self.device, non_blocking=True, copy=True) for _, m in self.masters[i]]
            self._pending[i] = (copies, None)
            return
        with torch.cuda.stream(stream):
            copies = [m.to(self.device, non_blocking=True) for _, m in self.masters[i]]
            event = torch.cuda.Event()
            event.record(stream)
        self._pending[i] = (copies, event)

    def before_block(self, i: int) -> None:
        """Put block ``i`` on the device (if streamed) and start copying the next streamed
        block, so it arrives while this one (resident or not) computes."""
        if i in self.masters:
            if i not in self._pending:
                self._copy(i, None)
            copies, event = self._pending.pop(i)
            if event is not None:
                current = torch.cuda.current_stream(self.device)
                current.wait_event(event)
                for c in copies:  # allocated on the copy stream, used on this one
                    c.record_stream(current)
            for (p, _), c in zip(self.masters[i], copies, strict=True):
                p.data = c
            self.loads += 1
        nxt = self._next.get(i)
        if self.prefetch and nxt is not None and nxt not in self._pending:
            self._copy(nxt, self.copy_stream)

    def after_block(self, i: int) -> None:
        """Drop block ``i``'s device copy (its master stays in host memory)."""
        for p, master in self.masters.get(i, ()):
            p.data = master

    def reset(self) -> None:
        """Forget prefetched copies (after an error, or when the pipeline is released)."""
        self._pending.clear()
        for i in self.masters:
            self.after_block(i)

    def device_tensors(self) -> int:
        """How many streamed parameters currently hold a device copy (0 between passes)."""
        held = sum(
            p.data_ptr() != m.data_ptr() for pairs in self.masters.values() for p, m in pairs
        )
        return held + sum(len(c) for c, _ in self._pending.values())
