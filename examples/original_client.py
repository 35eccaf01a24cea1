"""The original NovaAvatar design's API example, unchanged but for one header.

The original client posts ``content_title``/``content_description``/``style``/``duration``
to ``/api/generate``, polls ``/api/jobs/{job_id}`` and downloads ``/api/videos/{job_id}``.
This service keeps that contract; the one addition is the bearer token every request must
carry (``Authorization: Bearer <one of API_TOKENS>``).

    export NOVAAVATAR_API_TOKEN=...    # one of the server's API_TOKENS
    python examples/original_client.py [http://localhost:8000] [video.mp4]
"""

from __future__ import annotations

import os
import sys
import time

import requests

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8000"
OUT = sys.argv[2] if len(sys.argv) > 2 else "video.mp4"
# the one addition to the original client: the bearer token
HEADERS = {"Authorization": f"Bearer {os.environ['NOVAAVATAR_API_TOKEN']}"}

# Generate video from content
response = requests.post(
    f"{BASE}/api/generate",
    json={
        "content_title": "City opens its first solar-powered ferry line",
        "content_description": "The boat carries 120 passengers between the old port and "
        "the university. Two more ferries join the line next spring.",
        "style": "professional",
        "duration": int(os.environ.get("NOVAAVATAR_DURATION", "45")),
    },
    headers=HEADERS,
    timeout=60,
)
response.raise_for_status()
job = response.json()
print(f"Job ID: {job['job_id']}")

# Check status until the job ends
while True:
    status = requests.get(f"{BASE}/api/jobs/{job['job_id']}", headers=HEADERS, timeout=60).json()
    print(f"Status: {status['status']}")
    if status["status"] in ("completed", "failed", "cancelled"):
        break
    time.sleep(1)

# Download when complete
video = requests.get(f"{BASE}/api/videos/{job['job_id']}", headers=HEADERS, timeout=120)
video.raise_for_status()
with open(OUT, "wb") as f:
    f.write(video.content)
print(f"saved {OUT} ({len(video.content)} bytes)")
