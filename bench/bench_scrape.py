"""Scrape throughput: many feeds from a loopback server, and dedup + scoring of many items.

1. Time to scrape ``--feeds`` feeds of ``--entries`` entries each from an HTTP server on
   127.0.0.1 (its own process, so it does not share this one's GIL): the async path
   (``scrape``: httpx.AsyncClient, per-host limit) against the thread-pool path over a
   sync ``httpx.Client`` (the baseline, same run), median of ``--runs``. Both parse and
   rank everything; ``--per-host`` is the async path's per-host limit (loopback is one host).
2. Items per second for ``dedup`` + ``rank`` of ``--items`` synthetic items (about 10 %
   near-duplicates by title, 5 % by URL), median of ``--runs``.

    .venv/bin/python bench/bench_scrape.py --feeds 50 --entries 50 --items 10000 --runs 3
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)
VOCAB = [
    "harbor",
    "council",
    "budget",
    "glacier",
    "rover",
    "orbit",
    "vaccine",
    "election",
    "tariff",
    "drought",
    "festival",
    "museum",
    "bridge",
    "railway",
    "satellite",
    "reactor",
    "vineyard",
    "summit",
    "protest",
    "merger",
    "startup",
    "chip",
    "battery",
    "wildfire",
    "flood",
    "treaty",
    "senate",
    "court",
    "ferry",
    "stadium",
    "league",
    "marathon",
    "opera",
    "telescope",
    "coral",
    "forest",
    "airport",
    "tunnel",
    "pipeline",
    "harvest",
    "robot",
    "quantum",
    "archive",
    "library",
    "bakery",
    "canal",
    "volcano",
    "minister",
    "river",
    "market",
    "strike",
    "school",
    "hospital",
    "police",
    "border",
    "storm",
    "energy",
    "climate",
    "ocean",
    "mayor",
    "union",
    "farmers",
    "trial",
    "verdict",
    "launch",
    "record",
    "deal",
    "crisis",
    "report",
    "plan",
    "vote",
    "price",
]

SERVER = textwrap.dedent(
    """
    import random, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    vocab = sys.argv[2].split(",")
    entries = int(sys.argv[1])

    def feed(name):
        rng = random.Random(name)
        items = "".join(
            f"<item><title>{' '.join(rng.choice(vocab) for _ in range(8))} {name}-{i}</title>"
            f"<link>https://bench.example/{name}/{i}</link>"
            f"<description>&lt;p&gt;{' '.join(rng.choice(vocab) for _ in range(40))}&lt;/p&gt;"
            f"</description><pubDate>Tue, 10 Mar 2026 0{i % 10}:00:00 GMT</pubDate></item>"
            for i in range(entries)
        )
        return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
                f"<title>Feed {name}</title>{items}</channel></rss>").encode()

    cache = {}

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def log_message(self, *a): pass
        def do_GET(self):
            body = cache.get(self.path) or cache.setdefault(self.path, feed(self.path))
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    srv.request_queue_size = 256
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
    """
)


def _median(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def bench_feeds(feeds: int, entries: int, runs: int, per_host: int) -> None:
    import httpx

    from tasks.scrape import scrape

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(entries), ",".join(VOCAB)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.1):
                break
            time.sleep(0.05)
        urls = [f"http://127.0.0.1:{port}/feed{i}.xml" for i in range(feeds)]
        scrape(urls[:2], now=NOW, max_items_per_source=entries)  # warm-up: imports, server

        def run_async() -> object:
            return scrape(urls, now=NOW, max_items_per_source=entries, per_host_limit=per_host)

        def run_threads() -> object:
            with httpx.Client(headers={"User-Agent": "bench"}) as client:
                return scrape(urls, now=NOW, max_items_per_source=entries, client=client)

        t_async, res_async = _median(run_async, runs)
        t_threads, res_threads = _median(run_threads, runs)
        n_async = len(res_async.items)  # type: ignore[attr-defined]
        n_threads = len(res_threads.items)  # type: ignore[attr-defined]
        errors = len(res_async.errors)  # type: ignore[attr-defined]
        print(f"feeds: {feeds} x {entries} entries from 127.0.0.1, median of {runs}")
        print(
            f"  async scrape (per-host {per_host}): {t_async:6.3f} s  "
            f"{n_async} items, {errors} errors"
        )
        print(f"  thread-pool baseline (8 threads):  {t_threads:6.3f} s  {n_threads} items")
        print(f"  async / baseline time ratio: {t_async / t_threads:.2f}")
    finally:
        server.terminate()
        server.wait(10)


def synthetic_items(n: int, seed: int = 7) -> list[Any]:
    from novaavatar.domain import ContentItem

    rng = random.Random(seed)
    items: list[ContentItem] = []
    for i in range(n):
        roll = rng.random()
        if items and roll < 0.10:  # the same story, reworded a little, elsewhere
            base = rng.choice(items)
            words = base.title.split()
            words.insert(rng.randrange(len(words)), rng.choice(("breaking", "update", "live")))
            title, url = " ".join(words), f"https://other.example/{i}"
        elif items and roll < 0.15:  # the same article, shared with tracking
            base = rng.choice(items)
            title, url = base.title + " (video)", base.url + "?utm_source=social"
        else:
            title = " ".join(rng.choice(VOCAB) for _ in range(8)) + f" {i}"
            url = f"https://news{i % 20}.example/story/{i}"
        items.append(
            ContentItem.make(
                title=title,
                url=url,
                source=f"source {i % 20}",
                summary=" ".join(rng.choice(VOCAB) for _ in range(rng.randrange(5, 80))),
                published=NOW - timedelta(minutes=rng.randrange(0, 7 * 24 * 60)),
            )
        )
    return items


def bench_ranking(n: int, runs: int) -> None:
    from tasks.scrape import dedup, rank

    items = synthetic_items(n)

    def run() -> object:
        return rank(dedup(items), now=NOW, keywords=["harbor", "climate", "vote"])  # type: ignore[arg-type]

    t, out = _median(run, runs)
    t_rank, _ = _median(lambda: rank(items, now=NOW, keywords=["harbor"]), runs)  # type: ignore[arg-type]
    print(f"dedup + rank of {n} items, median of {runs}")
    print(f"  {t:6.3f} s  {n / t:,.0f} items/s  ({len(out)} stories kept)")  # type: ignore[arg-type]
    print(f"  rank alone (baseline): {t_rank:6.3f} s  {n / t_rank:,.0f} items/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--feeds", type=int, default=50)
    ap.add_argument("--entries", type=int, default=50)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--per-host", type=int, default=8)
    ap.add_argument("--skip-feeds", action="store_true")
    args = ap.parse_args()
    if not args.skip_feeds:
        bench_feeds(args.feeds, args.entries, args.runs, args.per_host)
    bench_ranking(args.items, args.runs)


if __name__ == "__main__":
    main()
