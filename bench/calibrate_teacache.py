"""Fit OmniAvatar's TeaCache rescale polynomial on the real weights.

Generates one clip with TeaCache off, records how much the timestep modulation and the DiT
output change between consecutive steps, fits the degree-4 polynomial and prints the
``OMNIAVATAR_TEA_CACHE_COEFFICIENTS=…`` line to put in ``.env`` (``--out`` also writes the
samples as JSON). Use the settings you generate with (steps, guidance, size)::

    python bench/calibrate_teacache.py --weights pretrained_models \\
        --portrait portrait.png --audio speech.wav --steps 50 --out teacache.json
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novaavatar.media import read_audio
from OmniAvatar.calibration import Calibration, calibrate
from OmniAvatar.pipeline import OmniAvatarPipeline


def main(argv: Sequence[str] | None = None) -> Calibration:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, required=True, help="pretrained_models folder")
    parser.add_argument("--use-14b", action="store_true")
    parser.add_argument("--portrait", type=Path, required=True)
    parser.add_argument("--audio", type=Path, required=True, help="speech (any rate; resampled)")
    parser.add_argument("--prompt", default="a news presenter talks to the camera")
    parser.add_argument("--seconds", type=float, default=4.0, help="audio used (from the start)")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--guidance", type=float, default=4.5)
    parser.add_argument("--audio-scale", type=float, default=None)
    parser.add_argument("--size", default=None, help="HxW, e.g. 400x720 (default: by aspect)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default="auto", help="auto, bf16, fp16, fp32")
    parser.add_argument("--offload", action="store_true")
    parser.add_argument("--chunk-frames", type=int, default=None)
    parser.add_argument("--overlap-frames", type=int, default=13)
    parser.add_argument("--out", type=Path, default=None, help="write samples + fit as JSON")
    args = parser.parse_args(argv)

    pipe = OmniAvatarPipeline.from_pretrained(
        args.weights,
        use_14b=args.use_14b,
        device=args.device,
        dtype=args.dtype,
        offload=args.offload,
    )
    audio = read_audio(args.audio, 16_000, max_seconds=600)[: int(16_000 * args.seconds)]
    image = np.asarray(Image.open(args.portrait).convert("RGB"))
    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    result = calibrate(
        pipe,
        image,
        audio,
        args.prompt,
        num_steps=args.steps,
        guidance_scale=args.guidance,
        audio_scale=args.audio_scale,
        size=size,
        chunk_frames=args.chunk_frames,
        overlap_frames=args.overlap_frames,
    )
    x = result.samples.x
    print(f"{len(x)} step pairs, modulation change {min(x):.4f}–{max(x):.4f}")
    print(f"fit RMSE {result.rmse:.4g} (output change, relative L1)")
    print(result.env_line)
    if args.out is not None:
        args.out.write_text(result.to_json("14B" if args.use_14b else "1.3B"))
        print(f"samples and fit written to {args.out}")
    return result


if __name__ == "__main__":
    main()
