"""Throughput of the S3 store on a loopback S3 server against a plain file copy, same run.

Uploads (put_file: multipart, streamed from disk) and downloads (download: streamed to a
temp file, renamed) one large file to moto's S3 server on 127.0.0.1, and copies the same
file with shutil; prints MB/s, medians of --runs, and S3 / copy ratios. Peak RSS of the
client is printed too: streaming keeps it far below the file size.

    .venv/bin/python bench/bench_store.py --size-mb 200 --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_seconds(fn: Callable[[int], object], runs: int) -> float:
    times = []
    for i in range(runs):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3, help="timed repetitions (median)")
    ap.add_argument("--part-mb", type=int, default=16, help="multipart part size")
    args = ap.parse_args()

    from pydantic import SecretStr

    from blocks.s3_store import S3ArtifactStore

    # the server in its own process, so this process's peak RSS is the client's alone
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
            break
        time.sleep(0.1)
    host = "127.0.0.1"
    store = S3ArtifactStore(
        endpoint=f"{host}:{port}",
        bucket="nova-bench",
        secure=False,
        access_key=SecretStr("bench"),
        secret_key=SecretStr("bench"),
        create_bucket=True,
        part_size=args.part_mb * 1024 * 1024,
    )
    size = args.size_mb * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="nova-bench-store-") as tmp:
        work = Path(tmp)
        src = work / "video.mp4"
        with src.open("wb") as fh:  # incompressible, like a video
            for _ in range(args.size_mb):
                fh.write(os.urandom(1024 * 1024))
        store.put_bytes("bench/warm-up.txt", b"x")  # the server loads its S3 backend lazily
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

        def copy(i: int) -> None:
            shutil.copyfile(src, work / f"copy-{i}.mp4")

        def upload(i: int) -> None:
            store.put_file(f"bench/video-{i}.mp4", src)

        def download(i: int) -> None:
            store.download(f"bench/video-{i}.mp4", work / f"down-{i}.mp4")

        t_copy = _median_seconds(copy, args.runs)
        for i in range(args.runs):
            (work / f"copy-{i}.mp4").unlink()
        t_up = _median_seconds(upload, args.runs)
        t_down = _median_seconds(download, args.runs)
        assert (work / "down-0.mp4").stat().st_size == size
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    server.terminate()
    server.wait()

    mb = size / 1e6
    print(f"file: {args.size_mb} MiB, runs: {args.runs} (median), part size {args.part_mb} MiB")
    print(f"{'operation':<28}{'seconds':>9}{'MB/s':>9}{'vs copy':>9}")
    for name, t in [
        ("plain file copy (shutil)", t_copy),
        ("S3 upload (put_file)", t_up),
        ("S3 download (download)", t_down),
    ]:
        print(f"{name:<28}{t:>9.2f}{mb / t:>9.0f}{t / t_copy:>8.1f}x")
    print(
        f"peak RSS of the client process (server runs apart): "
        f"{rss_before / 1024:.0f} MiB before, {rss_after / 1024:.0f} MiB after"
    )


if __name__ == "__main__":
    main()
