"""Fit TeaCache's rescale polynomial to a model from one real generation.

TeaCache decides to skip the DiT blocks from how much the timestep modulation changed since
the last step (``x``), but what matters is how much the DiT *output* changes (``y``). This
records both for every pair of consecutive steps of the same CFG branch while the pipeline
generates with TeaCache off, and fits ``y ≈ P(x)`` (degree 4, as the TeaCache paper does).
``bench/calibrate_teacache.py`` runs it on the real weights; the coefficients go into
``OMNIAVATAR_TEA_CACHE_COEFFICIENTS`` (or ``tea_cache_coefficients=`` of the pipeline).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from OmniAvatar.pipeline import OmniAvatarPipeline, cfg_passes


def relative_l1(new: Tensor, old: Tensor) -> float:
    """mean|new - old| / mean|old|: TeaCache's change measure."""
    return ((new - old).abs().mean() / old.abs().mean().clamp_min(1e-12)).item()


@dataclass
class ChangeSamples:
    """(x, y) per consecutive step pair: modulation change and DiT output change."""

    x: list[float] = field(default_factory=list)
    y: list[float] = field(default_factory=list)


@contextlib.contextmanager
def record_changes(
    pipe: OmniAvatarPipeline, passes: int, num_steps: int
) -> Iterator[ChangeSamples]:
    """Record (x, y) for every DiT call the pipeline makes inside the block.

    Calls come ``passes`` per step (the CFG branches, in a fixed order) and ``num_steps``
    steps per chunk; pairs never cross a chunk, since each chunk restarts from noise.
    """
    samples = ChangeSamples()
    last: dict[int, tuple[Tensor, Tensor]] = {}
    calls = [0]

    def hook(dit: Any, args: tuple[Any, ...], output: Tensor) -> None:
        step, branch = divmod(calls[0], passes)
        calls[0] += 1
        _, modulation = dit.timestep_modulation(args[2])  # args: latents, condition, timestep, …
        out = output.detach().float()
        if step % num_steps and branch in last:
            previous_mod, previous_out = last[branch]
            samples.x.append(relative_l1(modulation, previous_mod))
            samples.y.append(relative_l1(out, previous_out))
        last[branch] = (modulation, out)

    handle = pipe.dit.register_forward_hook(hook)
    try:
        yield samples
    finally:
        handle.remove()
        last.clear()


def fit_rescale(x: Sequence[float], y: Sequence[float], degree: int = 4) -> tuple[float, ...]:
    """Least-squares polynomial ``y ≈ P(x)``, highest degree first (TeaCache's order)."""
    if len(x) != len(y):
        raise ValueError(f"x and y differ in length: {len(x)} != {len(y)}")
    if len(set(x)) <= degree:
        raise ValueError(
            f"a degree-{degree} fit needs more than {degree} distinct changes, got {len(set(x))}: "
            "generate with more steps"
        )
    return tuple(float(c) for c in np.polyfit(np.asarray(x), np.asarray(y), degree))


@dataclass
class Calibration:
    coefficients: tuple[float, ...]
    samples: ChangeSamples
    rmse: float  # of the fit on its own samples

    @property
    def env_line(self) -> str:
        return "OMNIAVATAR_TEA_CACHE_COEFFICIENTS=" + ",".join(
            f"{c:.8e}" for c in self.coefficients
        )

    def to_json(self, model: str) -> str:
        return json.dumps(
            {
                "model": model,
                "coefficients": list(self.coefficients),
                "rmse": self.rmse,
                "samples": len(self.samples.x),
                "x_range": [min(self.samples.x), max(self.samples.x)],
                "x": self.samples.x,
                "y": self.samples.y,
            },
            indent=2,
        )


@torch.no_grad()
def calibrate(
    pipe: OmniAvatarPipeline,
    image: Any,
    audio: np.ndarray,
    prompt: str,
    *,
    num_steps: int = 50,
    guidance_scale: float = 4.5,
    audio_scale: float | None = None,
    degree: int = 4,
    **kwargs: Any,
) -> Calibration:
    """Generate once with TeaCache off, recording changes, and fit the rescale polynomial."""
    passes = cfg_passes(guidance_scale, guidance_scale if audio_scale is None else audio_scale)
    with record_changes(pipe, passes, num_steps) as samples:
        pipe(
            image,
            audio,
            prompt,
            num_steps=num_steps,
            guidance_scale=guidance_scale,
            audio_scale=audio_scale,
            tea_cache_thresh=0.0,
            **kwargs,
        )
    coefficients = fit_rescale(samples.x, samples.y, degree)
    predicted = np.polyval(coefficients, np.asarray(samples.x))
    rmse = math.sqrt(float(np.mean((predicted - np.asarray(samples.y)) ** 2)))
    return Calibration(coefficients, samples, rmse)
