"""Time one 30 s video through every stage, then a cached rerun of the same flow.

Prints seconds per stage, total wall time, wall / video duration (the real-time factor)
and the cached rerun's time as a ratio of the first run. Run with `make bench`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from novaavatar.domain import ProduceOptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--aspect", default="9:16")
    ap.add_argument("--runs", type=int, default=1, help="fresh productions to time (median)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="nova-bench-"))
    os.environ["PREFECT_HOME"] = str(work / "prefect")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

    from flows.produce import produce_video
    from flows.scrape import scrape_content
    from novaavatar import manifests
    from novaavatar.settings import get_settings
    from novaavatar.store import get_store

    firsts, reruns, rtfs = [], [], []
    stage_times: dict[str, list[float]] = {}
    for run in range(args.runs):
        os.environ["STORAGE_PATH"] = str(work / f"storage-{run}")
        get_settings.cache_clear()
        item = scrape_content(sample=True, limit=1)[0]
        t0 = time.perf_counter()
        vid = produce_video(
            item.id, options=ProduceOptions(duration_s=args.duration, aspect=args.aspect)
        )
        first = time.perf_counter() - t0
        t0 = time.perf_counter()
        produce_video(item.id, options=ProduceOptions(duration_s=args.duration, aspect=args.aspect))
        rerun = time.perf_counter() - t0
        m, _ = manifests.load(get_store(), vid)
        assert m.final is not None
        for name, rec in m.stages.items():
            stage_times.setdefault(name, []).append(rec.seconds)
        firsts.append(first)
        reruns.append(rerun)
        rtfs.append(first / m.final.duration_s)
        video_s = m.final.duration_s

    med = statistics.median
    print(f"\nvideo: {video_s:.1f} s at {args.aspect}, {args.runs} run(s), medians")
    print(f"{'stage':12} {'seconds':>8}")
    for name in ("script", "background", "speech", "avatar", "compose", "quality"):
        if name in stage_times:
            print(f"{name:12} {med(stage_times[name]):8.2f}")
    print(f"{'total wall':12} {med(firsts):8.2f}   (flow run, incl. Prefect overhead)")
    print(f"{'wall/video':12} {med(rtfs):8.3f}   (< 1 is faster than real time)")
    print(
        f"{'cached rerun':12} {med(reruns):8.2f}   "
        f"ratio to first run {med(reruns) / med(firsts):.3f}"
    )


if __name__ == "__main__":
    main()
