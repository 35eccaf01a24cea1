"""Decisions need what they saw: without a version only a pending video can be decided;
of two concurrent decisions exactly one wins, and only the winner's webhook fires."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api import (  # noqa: F401  (fixtures)
    AUTH,
    Receiver,
    api_env,
    mp4,
    receiver,
    serve,
    wait_for,
)
from test_review_app_support import add_video

from novaavatar import manifests
from novaavatar.domain import ReviewState
from novaavatar.errors import ConflictError


def test_changing_a_decision_needs_the_version_seen(store: Any) -> None:
    vid = add_video(store, 0, None).video_id
    manifests.decide(store, vid, ReviewState.APPROVED, by="ann")  # pending: no version needed
    with pytest.raises(ConflictError, match=r"is approved \(decided by ann\).*expected_version=2"):
        manifests.decide(store, vid, ReviewState.REJECTED, by="bob", note="too long")
    seen, _ = manifests.load(store, vid)
    m = manifests.decide(
        store, vid, ReviewState.REJECTED, by="bob", note="too long", expected_version=seen.version
    )
    assert m.state is ReviewState.REJECTED and [e.by for e in m.history][-2:] == ["ann", "bob"]
    with pytest.raises(ConflictError, match="is rejected"):
        manifests.decide(store, vid, ReviewState.APPROVED, by="ann")


def test_concurrent_approve_and_reject_without_a_version_one_wins(
    api_env: Callable[..., None],  # noqa: F811
    serve: Callable[[], str],  # noqa: F811
    store: Any,
    mp4: Path,  # noqa: F811
    receiver: Callable[..., Receiver],  # noqa: F811
) -> None:
    hook = receiver()
    api_env(WEBHOOK_URL=hook.url, WEBHOOK_SECRET="whsec-race")
    base = serve()
    trials, approvals_won = 6, 0
    for n in range(trials):
        vid = add_video(store, n, mp4).video_id
        barrier = threading.Barrier(2)
        answers: dict[str, httpx.Response] = {}

        def decide(
            verb: str,
            vid: str = vid,
            barrier: threading.Barrier = barrier,
            answers: dict[str, httpx.Response] = answers,
        ) -> None:
            body = {"reviewer": verb, "note": "no"} if verb == "reject" else {"reviewer": verb}
            barrier.wait()
            answers[verb] = httpx.post(
                f"{base}/api/queue/{vid}/{verb}", json=body, headers=AUTH, timeout=30
            )

        threads = [threading.Thread(target=decide, args=(v,)) for v in ("approve", "reject")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in answers.values())
        assert codes == [200, 409], {k: r.text for k, r in answers.items()}
        winner = next(v for v, r in answers.items() if r.status_code == 200)
        m, _ = manifests.load(store, vid)
        assert m.state.value == {"approve": "approved", "reject": "rejected"}[winner]
        assert [e.by for e in m.history] == [winner]  # the loser left no trace
        approvals_won += winner == "approve"
    wait_for(hook, approvals_won, timeout_s=15)
    delivered = [json.loads(body)["data"]["video_id"] for _, body in hook.got]
    approved = [m.video_id for m in manifests.queue(store, ReviewState.APPROVED)]
    assert sorted(delivered) == sorted(approved)  # a webhook only for the decisions that won
