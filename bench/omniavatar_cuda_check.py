"""The OmniAvatar pipeline's GPU paths on the tiny weights in the published layout (bf16, as
released): the same video on CUDA as on the CPU, and the memory modes on CUDA equal to all
resident — pinned streaming with prefetch (resident 0 and a partial budget), offload between
uses, torch.compile — plus a bf16 run. Prints the differences and times and writes a JSON.

    python bench/omniavatar_cuda_check.py --json omniavatar-cuda-check.json

Without CUDA it runs the same comparisons on the CPU (``--device cpu``): a check of the
script, not of the GPU paths.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from OmniAvatar.pipeline import OmniAvatarPipeline  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    import test_omniavatar as weights  # the tests' writer of the published layout

    root = weights.write_published_layout(
        Path(tempfile.mkdtemp()) / "pretrained_models", dtype=torch.bfloat16
    )
    dev = args.device
    report: dict[str, Any] = {"torch": torch.__version__, "device": dev, "runs": {}}
    if dev == "cuda":
        report["gpu"] = torch.cuda.get_device_name()

    def run(label: str, device: str, dtype: torch.dtype, **kw: Any) -> np.ndarray:
        t0 = time.perf_counter()
        pipe = OmniAvatarPipeline.from_pretrained(root, device=device, dtype=dtype, **kw)
        loaded = time.perf_counter() - t0
        t1 = time.perf_counter()
        out = weights._run(pipe)
        if device == "cuda":
            torch.cuda.synchronize()
        frames = out.frames
        entry = {
            "load_s": round(loaded, 3),
            "generate_s": round(time.perf_counter() - t1, 3),
            "shape": list(frames.shape),
            "dit_calls": out.dit_calls,
            "resident_blocks": len(pipe.resident_plan.resident_blocks),
            "compile_error": pipe.dit.compile_error,
        }
        if device == "cuda":
            entry["peak_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
            torch.cuda.reset_peak_memory_stats()
        report["runs"][label] = entry
        print(f"{label:<28} {entry}", flush=True)
        return frames

    def diff(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
        d = np.abs(a.astype(np.int16) - b.astype(np.int16))
        return {"mean": round(float(d.mean()), 4), "max": int(d.max())}

    reference = run("cpu fp32", "cpu", torch.float32)
    base = run(f"{dev} fp32 all resident", dev, torch.float32)
    half_budget = weights.CFG.num_parameters() // 2
    modes = {
        f"{dev} fp32 resident 0": dict(resident_params=0),
        f"{dev} fp32 resident half": dict(resident_params=half_budget),
        f"{dev} fp32 offload": dict(offload=True),
        f"{dev} fp32 compile": dict(compile=True),
    }
    diffs: dict[str, Any] = {f"{dev} fp32 all resident vs cpu fp32": diff(base, reference)}
    for label, kw in modes.items():
        diffs[f"{label} vs all resident"] = diff(run(label, dev, torch.float32, **kw), base)
    bf16 = run(f"{dev} bf16 all resident", dev, torch.bfloat16)
    diffs[f"{dev} bf16 vs fp32"] = diff(bf16, base)
    report["diffs"] = diffs
    print("\nframe differences (uint8 levels):")
    for label, d in diffs.items():
        print(f"  {label:<44} mean {d['mean']:.4f}  max {d['max']}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
