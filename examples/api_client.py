"""Drive NovaAvatar over its REST API: scrape, generate a video, follow the job, download it,
approve it. Needs only httpx.

    export NOVAAVATAR_API_TOKEN=...          # one of the server's API_TOKENS
    python examples/api_client.py --url http://127.0.0.1:8000 --approve
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx


class ApiError(RuntimeError):
    """An RFC 9457 problem the API answered with."""


def call(client: httpx.Client, method: str, path: str, **kw: Any) -> httpx.Response:
    r = client.request(method, path, **kw)
    if r.status_code >= 400:
        try:
            problem = r.json()
            detail = f"{problem.get('title')}: {problem.get('detail')}"
        except ValueError:
            detail = r.text[:200]
        raise ApiError(f"{method} {path} → {r.status_code} {detail}")
    return r


def follow(client: httpx.Client, job_id: str, timeout_s: float) -> dict[str, Any]:
    """Poll the job until it ends, printing each stage as it completes."""
    deadline, shown = time.monotonic() + timeout_s, ""
    while True:
        job = call(client, "GET", f"/api/jobs/{job_id}").json()
        progress = job.get("progress") or {"stages": []}
        line = " ".join(
            f"{s['name']}"
            f"{'✓' if s['state'] == 'completed' else '…' if s['state'] == 'running' else ''}"
            for s in progress["stages"]
        )
        if f"{job['state']} {line}" != shown:
            shown = f"{job['state']} {line}"
            print(f"  job {job_id}: {shown}")
        if job["state"] in ("completed", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise ApiError(f"job {job_id} still {job['state']} after {timeout_s:.0f} s")
        time.sleep(1.0)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", default=os.environ.get("NOVAAVATAR_API_URL", "http://127.0.0.1:8000"))
    p.add_argument("--token", default=os.environ.get("NOVAAVATAR_API_TOKEN", ""))
    p.add_argument("--duration", type=float, default=15, help="seconds (15-90)")
    p.add_argument("--aspect", default="9:16", choices=["9:16", "16:9", "1:1"])
    p.add_argument("--out", type=Path, default=Path("downloads"), help="where videos go")
    p.add_argument("--approve", action="store_true", help="approve the video when it is ready")
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the video")
    p.add_argument(
        "--sample", action="store_true", help="the bundled sample stories (fiction), offline"
    )
    args = p.parse_args(argv)
    if not args.token:
        p.error("give --token or set NOVAAVATAR_API_TOKEN")

    headers = {"Authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=args.url, headers=headers, timeout=60) as client:
        try:
            print("scraping the configured sources ...")
            scrape = {"limit": 5, "sample": True} if args.sample else {"limit": 5}
            scraped = call(client, "POST", "/api/scrape", json=scrape).json()
            if not scraped["items"]:
                raise ApiError(f"no items yet; the scrape job is {scraped['job']['state']}")
            item = scraped["items"][0]
            print(f"  {len(scraped['items'])} items; producing {item['title']!r}")

            body = {"item_id": item["id"], "duration_s": args.duration, "aspect": args.aspect}
            job = call(client, "POST", "/api/generate", json=body).json()
            job = follow(client, job["id"], args.timeout)
            if job["state"] != "completed":
                raise ApiError(f"job {job['id']} {job['state']}: {job.get('error')}")
            video_id = job["video_id"]

            args.out.mkdir(parents=True, exist_ok=True)
            target = args.out / f"{video_id}.mp4"
            # the API answers with the file, or a redirect to S3: follow it
            with client.stream("GET", f"/api/videos/{video_id}", follow_redirects=True) as r:
                if r.status_code != 200:
                    raise ApiError(f"video download → {r.status_code}")
                with target.open("wb") as f:
                    for chunk in r.iter_bytes():
                        f.write(chunk)
            vtt = call(client, "GET", f"/api/videos/{video_id}/captions.vtt").text
            (args.out / f"{video_id}.vtt").write_text(vtt)
            print(f"  downloaded {target} ({target.stat().st_size} bytes) and its captions")

            if args.approve:
                manifest = call(client, "GET", f"/api/videos/{video_id}/manifest").json()
                decision = {"reviewer": "api-client", "expected_version": manifest["version"]}
                approved = call(
                    client, "POST", f"/api/queue/{video_id}/approve", json=decision
                ).json()
                print(f"  {video_id} is {approved['state']}")
        except (ApiError, httpx.HTTPError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
