"""OmniAvatar DiT: seconds per denoising step and peak VRAM per configuration.

``--device cuda`` builds the full-size 1.3B DiT (and 14B when memory allows) with random
weights in the published shapes (nothing is downloaded), in bf16, at the published 480p
setup: 400×720 pixels, 81 frames (21 latent frames, 23625 tokens: one chunk within the
published 30000-token budget), 2 DiT passes per step (text and audio guidance equal). Per
configuration it prints s/step and peak VRAM: TeaCache 0 / 0.14, resident-parameter budgets
all / 7e9 / 0 (the other blocks streamed from pinned host memory), torch.compile on / off,
with the published A800 figures beside the 14B rows. It is planned to finish within 8
minutes on one H200 (``--time-limit`` skips what would not fit and says so) and writes the
figures as JSON with ``--json PATH``.

Without CUDA (``--device cpu``, or ``auto`` on a machine without a GPU) the same table runs on
the tiny test config: only the ratios mean something there, not the seconds.

    python bench/bench_omniavatar.py --device cuda --json omniavatar-h200.json
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.model import OmniAvatarDiT, TeaCache
from OmniAvatar.pipeline import FlowMatchScheduler, check_fits

# OmniAvatar README, A800 80 GB, 14B, bf16, one GPU: (s/it, GB) per resident budget — published
PUBLISHED_14B = {"all": (16.0, 36.0), "7e9": (19.4, 21.0), "0": (22.1, 8.0)}
FRAMES, HEIGHT, WIDTH = 81, 400, 720  # the published 480p setup
MAX_TOKENS = 30_000  # the published token budget per chunk


@dataclass
class Row:
    model: str
    resident: str  # "all", "7e9" or "0"
    tea_cache: float
    compile: bool
    dtype: str
    s_per_step: float | None = None
    peak_gib: float | None = None
    skipped_passes: int = 0
    passes: int = 0
    published_s_per_it: float | None = None
    published_gb: float | None = None
    status: str = "measured"


def latent_grid(frames: int, height: int, width: int) -> tuple[int, int, int]:
    grid = ((frames - 1) // 4 + 1, height // 8, width // 8)
    tokens = grid[0] * (grid[1] // 2) * (grid[2] // 2)
    assert tokens <= MAX_TOKENS, f"{tokens} tokens exceed the published {MAX_TOKENS} per chunk"
    return grid


def build(cfg: OmniAvatarConfig, dtype: torch.dtype, device: torch.device) -> OmniAvatarDiT:
    """The DiT with random weights, allocated directly in ``dtype`` on ``device``."""
    with torch.device("meta"):
        dit = OmniAvatarDiT(cfg).to(dtype)
    dit.to_empty(device=device)
    with torch.no_grad():
        for p in dit.parameters():
            p.normal_(0.0, 0.02)  # timing only: any finite values do
    return dit.eval().requires_grad_(False)


def time_steps(
    dit: OmniAvatarDiT,
    grid: tuple[int, int, int],
    steps: int,
    passes: int,
    thresh: float,
    device: torch.device,
) -> tuple[float, int]:
    """Seconds per step (``passes`` CFG branches each) after two untimed warm-up passes,
    and how many passes TeaCache skipped."""
    cfg = dit.config
    dtype = dit.patch_embed.weight.dtype
    f, h, w = grid
    g = torch.Generator(device=device).manual_seed(0)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, device=device, dtype=dtype, generator=g)

    lat, cond = rand(1, cfg.latent_dim, f, h, w), rand(1, cfg.in_dim - cfg.latent_dim, f, h, w)
    ctx, audio = rand(1, cfg.text_len, cfg.text_dim), rand(1, 4 * (f - 1) + 1, cfg.audio_in_dim)
    caches = [
        TeaCache(thresh, cfg.tea_cache_coefficients) if thresh > 0 else None for _ in range(passes)
    ]
    sched = FlowMatchScheduler(steps)
    times = []
    with torch.no_grad():
        for _ in range(2):  # warm-up (and compile): allocator, kernels, first copies
            dit(lat, cond, sched.timesteps[:1].to(device), ctx, audio)
        for i, t in enumerate(sched.timesteps):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for cache in caches:
                dit(lat, cond, t.expand(1).to(device), ctx, audio, cache, i in (0, steps - 1))
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
    # with TeaCache the mean is what a video pays (skipped steps are cheap, computed ones not);
    # without it every step does the same work, and the median ignores a stray slow one
    skipped = sum(c.skipped for c in caches if c is not None)
    return (statistics.fmean(times) if thresh > 0 else statistics.median(times)), skipped


def plan_rows(model: str, cuda: bool) -> list[Row]:
    """The configurations: all resident (TeaCache off, on), the streamed budgets, compile."""
    dtype = "bf16" if cuda else "fp32"
    rows = [
        Row(model, "all", 0.0, False, dtype),
        Row(model, "all", 0.14, False, dtype),
        Row(model, "7e9", 0.0, False, dtype),
        Row(model, "0", 0.0, False, dtype),
    ]
    if cuda:  # last: its compile time is the least certain; on a CPU it costs minutes for nothing
        rows.append(Row(model, "all", 0.0, True, dtype))
    for row in rows:
        if model == "14B" and not row.compile and row.tea_cache == 0:
            row.published_s_per_it, row.published_gb = PUBLISHED_14B[row.resident]
    return rows


def budget_of(row: Row, cfg: OmniAvatarConfig) -> int | None:
    if row.resident == "all":
        return None
    if row.resident == "0":
        return 0
    if cfg.name == "tiny":  # the tiny model: half of it stands for 7e9 of 14B's 14.3e9
        return cfg.num_parameters() // 2
    return 7_000_000_000


def run_model(
    cfg: OmniAvatarConfig,
    grid: tuple[int, int, int],
    device: torch.device,
    dtype: torch.dtype,
    args: argparse.Namespace,
    deadline: float,
    on_row: Callable[[list[Row]], None] = lambda rows: None,
) -> list[Row]:
    """Time each configuration of ``cfg``; ``on_row`` gets the rows so far after each one
    (the JSON is rewritten then: a run cut off at its limit keeps what it measured)."""
    rows = plan_rows(cfg.name, device.type == "cuda")
    build_on = device
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info()
        try:
            check_fits(cfg, dtype, free)
        except MemoryError as e:
            print(f"{cfg.name}: all resident does not fit ({e}); building in host memory")
            for row in rows:
                if row.resident == "all":
                    row.status = "skipped: does not fit"
            build_on = torch.device("cpu")
    print(f"\n{cfg.name}: {cfg.num_parameters():,} DiT parameters, latent grid {grid}")
    t0 = time.perf_counter()
    dit = build(cfg, dtype, build_on)
    print(f"  built in {time.perf_counter() - t0:.0f} s")
    for row in rows:
        if row.status != "measured":
            continue
        if time.perf_counter() > deadline:
            row.status = "skipped: time limit"
            continue
        budget = budget_of(row, cfg)
        plan = dit.stream_blocks(budget, device)
        dit.place(device)
        if row.compile:
            dit.compile_blocks()
        if device.type == "cuda":
            gc.collect()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        steps = args.steps if row.tea_cache > 0 else args.mode_steps
        try:
            seconds, skipped = time_steps(dit, grid, steps, args.passes, row.tea_cache, device)
        except torch.OutOfMemoryError:
            row.status = "skipped: out of memory"
            continue
        finally:
            if row.compile:
                if dit.compile_error:
                    row.status = f"compile failed, eager: {dit.compile_error[:120]}"
                dit.uncompile_blocks()
        row.s_per_step, row.skipped_passes, row.passes = seconds, skipped, steps * args.passes
        if device.type == "cuda":
            row.peak_gib = torch.cuda.max_memory_allocated() / 2**30
        blocks = f"{len(plan.resident_blocks)}/{cfg.num_layers} blocks resident"
        print(f"  {describe(row)}  ({blocks})")
        on_row(rows)
    dit.stream_blocks(None, device)
    del dit
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def describe(row: Row) -> str:
    what = (
        f"resident {row.resident:<3} TeaCache {row.tea_cache:<4} "
        f"compile {'on ' if row.compile else 'off'} {row.dtype}"
    )
    if row.s_per_step is None:
        return f"{what}  {row.status}"
    peak = f"{row.peak_gib:6.1f} GiB" if row.peak_gib is not None else "     - GiB"
    line = f"{what}  {row.s_per_step:8.3f} s/step  {peak}"
    if row.tea_cache > 0:
        line += f"  {row.skipped_passes}/{row.passes} passes skipped"
    if row.published_s_per_it is not None:
        line += f"  | A800 published: {row.published_s_per_it} s/it, {row.published_gb:.0f} GB"
    return line


def ratios(rows: list[Row]) -> list[str]:
    """Each configuration's step time against the plain all-resident one of its model."""
    out = []
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model and r.s_per_step is not None]
        base = next(
            (r for r in mine if r.resident == "all" and not r.compile and r.tea_cache == 0), None
        )
        if base is None or not base.s_per_step:
            continue
        for r in mine:
            if r is not base and r.s_per_step is not None:
                label = (
                    f"resident {r.resident}, TeaCache {r.tea_cache}, "
                    f"compile {'on' if r.compile else 'off'}"
                )
                out.append(
                    f"{model} {label}: {r.s_per_step / base.s_per_step:.2f}× the plain step time"
                )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    parser.add_argument("--sizes", default="1.3B,14B", help="on CUDA: 1.3B, 14B or both")
    parser.add_argument("--steps", type=int, default=8, help="steps of the TeaCache runs")
    parser.add_argument("--mode-steps", type=int, default=2, help="timed steps per other run")
    parser.add_argument("--passes", type=int, default=2, help="CFG branches per step (1-3)")
    parser.add_argument(
        "--time-limit", type=float, default=400, help="seconds; later runs are skipped"
    )
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if cuda and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    deadline = time.perf_counter() + args.time_limit
    rows: list[Row] = []
    info: dict[str, object] = {"torch": torch.__version__, "python": platform.python_version()}
    grid = (3, 8, 8)

    def write(more: list[Row] = []) -> None:  # noqa: B006 (never mutated)
        if args.json is None:
            return
        report = {
            **info,
            "frames": FRAMES if cuda else None,
            "size": [WIDTH, HEIGHT] if cuda else None,
            "latent_grid": list(grid),
            "passes_per_step": args.passes,
            "rows": [asdict(r) for r in [*rows, *more]],
        }
        args.json.write_text(json.dumps(report, indent=2))

    if cuda:
        device, dtype = torch.device("cuda"), torch.bfloat16
        free, total = torch.cuda.mem_get_info()
        info |= {"device": torch.cuda.get_device_name(), "memory_gib": round(total / 2**30, 1)}
        grid = latent_grid(FRAMES, HEIGHT, WIDTH)
        print(
            f"CUDA: {info['device']} ({total / 2**30:.0f} GiB, {free / 2**30:.0f} free), random "
            f"weights, bf16, {WIDTH}×{HEIGHT}, {FRAMES} frames = "
            f"{grid[0] * (grid[1] // 2) * (grid[2] // 2)} "
            f"tokens, {args.passes} DiT passes per step"
        )
        presets = {"1.3B": OmniAvatarConfig.wan_1_3b(), "14B": OmniAvatarConfig.wan_14b()}
        for name in args.sizes.split(","):
            rows += run_model(presets[name.strip()], grid, device, dtype, args, deadline, write)
    else:
        print(
            "NO GPU: the tiny test config runs on the CPU. Only the ratios mean something "
            "(how streaming and TeaCache change the work), not the seconds; torch.compile is "
            "left out. Run with --device cuda for the full-size table."
        )
        info |= {"device": "cpu (tiny config)"}
        torch.set_num_threads(1)  # tiny kernels: threads only add noise on a shared CPU
        args.mode_steps = max(args.mode_steps, 6)
        rows += run_model(
            OmniAvatarConfig.tiny(), grid, torch.device("cpu"), torch.float32, args, deadline, write
        )
    print("\nratios:")
    for line in ratios(rows):
        print(f"  {line}")
    print(
        "published A800 (OmniAvatar README, 14B, bf16): 16.0 s/it at 36 GB all resident, "
        "19.4 s/it at 21 GB with 7e9, 22.1 s/it at 8 GB with none; 4 GPUs FSDP 4.8 s/it"
    )
    if args.json is not None:
        write()
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
