"""Several GPUs: the DiT's tokens split across ranks (sequence parallel) and its weights
sharded (FSDP), one process per GPU, started by ``torchrun``.

Sequence parallel, "split the tokens, gather K/V": each rank keeps a contiguous 1/N slice of
the video tokens through every block. Everything in a block works token by token (norms,
modulation, cross-attention to the prompt, FFN, the audio added per frame) except
self-attention, where each rank all-gathers the keys and values of every token and attends
its own queries to them. The head runs on the slice too; the velocities are gathered once
at the end, so every rank holds the whole output and runs the same scheduler step. The
token count is padded to a multiple of N (padded keys are cut before attention).

FSDP (``torch.distributed.fsdp.fully_shard``): each DiT block is one unit, then the model;
every GPU stores 1/N of every block and all-gathers one block's weights just before it runs.
The text encoder, VAE and wav2vec2 run whole on every rank (each once per video or chunk).

Run a job (a JSON file, see :func:`run_job`) on N GPUs::

    torchrun --nproc-per-node N -m OmniAvatar.distributed job.json

:func:`launch` does exactly that from the worker. On CPU the backend is gloo (the tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from OmniAvatar.parallel import SequenceParallel


def initialise() -> tuple[int, int, torch.device]:
    """Join torchrun's process group (nccl on CUDA, gloo on CPU); (rank, world, device)."""
    cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", rank))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def parallelize(dit: nn.Module, device: torch.device, shard: bool = True) -> SequenceParallel:
    """Split ``dit``'s tokens across the ranks and (``shard``) its weights with FSDP."""
    rank, world = dist.get_rank(), dist.get_world_size()
    sp = SequenceParallel(rank, world)
    dit.enable_sequence_parallel(sp)  # type: ignore[operator]
    if shard and world > 1:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(device.type, (world,))
        for block in dit.blocks:  # type: ignore[union-attr]
            fully_shard(block, mesh=mesh)
        fully_shard(dit, mesh=mesh)
    return sp


def load_pipeline(root: str | Path, *, use_14b: bool = False, dtype: str | None = None) -> Any:
    """The pipeline on this rank's device, its DiT split and sharded across the group."""
    from OmniAvatar.pipeline import OmniAvatarPipeline

    _, _, device = initialise()
    pipe = OmniAvatarPipeline.from_pretrained(root, use_14b=use_14b, device=device, dtype=dtype)
    parallelize(pipe.dit, device)
    return pipe


def run_job(job: dict[str, Any]) -> np.ndarray | None:
    """Generate one video on every rank of the group; rank 0 saves the frames to ``job["out"]``
    (an ``.npy`` of (frames, H, W, 3) uint8) and returns them.

    ``job``: ``root``, ``use_14b``, ``dtype``, ``image`` (a picture file), ``audio`` (an
    ``.npy`` of 16 kHz float32 samples), ``prompt``, ``out`` and ``options`` (the pipeline's
    keyword arguments: num_steps, guidance_scale, seed, size, ...).
    """
    from PIL import Image

    pipe = load_pipeline(job["root"], use_14b=job.get("use_14b", False), dtype=job.get("dtype"))
    image = np.asarray(Image.open(job["image"]).convert("RGB"))
    audio = np.load(job["audio"])
    options = dict(job.get("options", {}))
    if "size" in options and options["size"] is not None:
        options["size"] = tuple(options["size"])
    frames = pipe(image, audio, job["prompt"], **options).frames
    if dist.get_rank() != 0:
        return None
    np.save(job["out"], frames)
    return frames


def launch(
    job: dict[str, Any], gpus: int, workdir: Path, timeout: float | None = None
) -> np.ndarray:
    """Run :func:`run_job` on ``gpus`` processes with torchrun and return rank 0's frames."""
    path = workdir / "job.json"
    path.write_text(json.dumps(job))
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={gpus}",
        "-m",
        "OmniAvatar.distributed",
        str(path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-2000:]
        raise RuntimeError(
            f"OmniAvatar on {gpus} GPUs failed (torchrun exit {done.returncode}): {tail}"
        )
    return np.load(job["out"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(
            "usage: torchrun --nproc-per-node N -m OmniAvatar.distributed JOB.json", file=sys.stderr
        )
        return 2
    try:
        run_job(json.loads(Path(args[0]).read_text()))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
