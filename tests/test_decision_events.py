"""Each review decision is a Prefect event on the video, read back from a real Prefect server."""

from __future__ import annotations

import time

import pytest
from test_review_app_support import add_video

from novaavatar import manifests
from novaavatar.domain import ReviewState
from novaavatar.events import video_resource
from novaavatar.store import ArtifactStore


def _events_of(video_id: str, timeout: float = 30.0) -> list[dict]:
    """The server's events about the video, oldest first (waits for the events worker)."""
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all()
    deadline = time.monotonic() + timeout
    while True:
        with get_client(sync_client=True) as client:
            r = client.request(
                "POST",
                "/events/filter",
                json={
                    "filter": {"resource": {"id": [video_resource(video_id)]}, "order": "ASC"},
                    "limit": 50,
                },
            )
        found = r.json()["events"]
        if len(found) >= 2 or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def wait_for_event(video_id: str, name: str, timeout: float = 30.0, **payload: object) -> dict:
    """The newest ``name`` event about the video whose payload holds ``payload``."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            e
            for e in _events_of(video_id, timeout=0)
            if e["event"] == name and all(e["payload"].get(k) == v for k, v in payload.items())
        ]
        if found:
            return found[-1]
        assert time.monotonic() < deadline, f"no {name} {payload} event about {video_id}"
        time.sleep(0.5)


@pytest.mark.usefixtures("prefect_harness")
def test_approve_and_reject_are_events_on_the_video(store: ArtifactStore) -> None:
    m = add_video(store, 4242, None)  # an id no other test decides on (one server per session)
    rejected = manifests.decide(
        store, m.video_id, ReviewState.REJECTED, by="Ada", note="wrong name"
    )
    # changing a decision needs the version its reviewer saw
    manifests.decide(
        store, m.video_id, ReviewState.APPROVED, by="Grace", expected_version=rejected.version
    )
    got = _events_of(m.video_id)
    assert [e["event"] for e in got] == ["novaavatar.video.rejected", "novaavatar.video.approved"]
    rejected, approved = got
    assert rejected["resource"]["prefect.resource.id"] == f"novaavatar.video.{m.video_id}"
    assert (rejected["payload"]["by"], rejected["payload"]["note"]) == ("Ada", "wrong name")
    assert approved["resource"]["novaavatar.reviewer"] == "Grace"
    assert approved["related"][0]["prefect.resource.id"] == f"prefect.flow-run.{m.flow_run_id}"
