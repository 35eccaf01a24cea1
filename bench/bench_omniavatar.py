"""OmniAvatar DiT: seconds per denoising step, TeaCache speed-up, peak memory.

Without CUDA it runs the tiny config on the CPU and says so (the numbers only show the code
path works and how TeaCache and CFG passes scale). With CUDA it builds the full-size 1.3B
architecture with random weights at 400×720 (bf16) and times one chunk's DiT passes, all
parameters resident; compare with the published A800 table in ``OmniAvatar/README.md`` and
note the card. Run ``python bench/bench_omniavatar.py`` (``--help`` for options).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.model import OmniAvatarDiT, TeaCache
from OmniAvatar.pipeline import FlowMatchScheduler


def time_steps(
    dit: OmniAvatarDiT,
    shape: tuple[int, int, int],
    steps: int,
    passes: int,
    thresh: float,
    device: torch.device,
    dtype: torch.dtype,
) -> tuple[float, int]:
    """Median seconds per step (``passes`` CFG branches each) and TeaCache skips."""
    cfg = dit.config
    f, h, w = shape
    lat = torch.randn(1, cfg.latent_dim, f, h, w, device=device, dtype=dtype)
    cond = torch.randn(1, cfg.in_dim - cfg.latent_dim, f, h, w, device=device, dtype=dtype)
    ctx = torch.randn(1, cfg.text_len, cfg.text_dim, device=device, dtype=dtype)
    audio = torch.randn(1, 4 * (f - 1) + 1, cfg.audio_in_dim, device=device, dtype=dtype)
    caches = [TeaCache(thresh) if thresh > 0 else None for _ in range(passes)]
    sched = FlowMatchScheduler(steps)
    times = []
    with torch.no_grad():
        for i, t in enumerate(sched.timesteps):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for cache in caches:
                dit(
                    lat,
                    cond,
                    t.expand(1).to(device),
                    ctx,
                    audio,
                    cache,
                    force_compute=i in (0, steps - 1),
                )
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    return statistics.median(times), sum(c.skipped for c in caches if c is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--passes", type=int, default=2, help="CFG branches per step (1-3)")
    parser.add_argument("--tea-cache", type=float, default=0.14)
    args = parser.parse_args()
    if torch.cuda.is_available():
        device, dtype = torch.device("cuda"), torch.bfloat16
        cfg = OmniAvatarConfig.wan_1_3b()
        shape = (26, 400 // 8, 720 // 8)  # ~30000 tokens: one published chunk at 400×720
        print(f"CUDA: {torch.cuda.get_device_name()} — full-size {cfg.name}, random weights, bf16")
    else:
        device, dtype = torch.device("cpu"), torch.float32
        cfg = OmniAvatarConfig.tiny()
        shape = (3, 8, 8)
        print("no CUDA: tiny config on the CPU (not representative of GPU speed)")
    with torch.device(device):
        dit = OmniAvatarDiT(cfg).to(dtype).eval()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    plain, _ = time_steps(dit, shape, args.steps, args.passes, 0.0, device, dtype)
    cached, skipped = time_steps(dit, shape, args.steps, args.passes, args.tea_cache, device, dtype)
    print(f"{cfg.name}: {plain:.3f} s/step ({args.passes} DiT passes), latent grid {shape}")
    print(
        f"TeaCache {args.tea_cache}: {cached:.3f} s/step median, {skipped} of "
        f"{args.steps * args.passes} passes skipped (random weights: skip rates differ from a "
        "trained model)"
    )
    if device.type == "cuda":
        print(
            f"peak VRAM {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB, all parameters resident"
        )


if __name__ == "__main__":
    main()
