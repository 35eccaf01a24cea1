"""Run by test_omniavatar_distributed under ``torchrun --nproc-per-node 2`` (gloo, CPU).

1. The tiny DiT, split across the ranks (sequence parallel) and sharded (FSDP), against
   the same weights whole in this process: the largest difference goes to ``dit_diff.json``.
2. A whole video through :func:`OmniAvatar.distributed.run_job`, as ``launch`` runs it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from OmniAvatar import distributed
from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.model import OmniAvatarDiT, TeaCache


def main(job_file: str) -> None:
    rank, world, device = distributed.initialise()
    cfg = OmniAvatarConfig.tiny()
    torch.manual_seed(0)
    whole = OmniAvatarDiT(cfg).eval().requires_grad_(False)
    split = OmniAvatarDiT(cfg).eval().requires_grad_(False)
    split.load_state_dict(whole.state_dict())
    distributed.parallelize(split, device)
    g = torch.Generator().manual_seed(1)
    frames, h, w = 3, 6, 10  # 3·3·5 = 45 tokens: not a multiple of 2, so padding is exercised
    args = (
        torch.randn(1, cfg.latent_dim, frames, h, w, generator=g),
        torch.randn(1, cfg.in_dim - cfg.latent_dim, frames, h, w, generator=g),
        torch.tensor([600.0]),
        torch.randn(1, cfg.text_len, cfg.text_dim, generator=g),
        torch.randn(1, 4 * (frames - 1) + 1, cfg.audio_in_dim, generator=g),
    )
    diffs = []
    with torch.no_grad():
        want = whole(*args)
        diffs.append(((split(*args) - want).abs().max() / want.abs().max()).item())
        # TeaCache decides alike on every rank and reuses each rank's residual slice
        caches = (TeaCache(10.0), TeaCache(10.0))
        for step in (0, 1):
            a = whole(*args, tea_cache=caches[0], force_compute=step == 0)
            b = split(*args, tea_cache=caches[1], force_compute=step == 0)
            diffs.append(((b - a).abs().max() / a.abs().max()).item())
        assert caches[1].skipped == caches[0].skipped == 1
    if rank == 0:
        out = Path(job_file).with_name("dit_diff.json")
        out.write_text(json.dumps({"world": world, "diffs": diffs}))
    distributed.run_job(json.loads(Path(job_file).read_text()))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
