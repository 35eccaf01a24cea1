"""The smaller cases of a hostile day: each gets a clear error naming the input, and none
leaks a file's text or a path of this host."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_api import AUTH, api_env, serve  # noqa: F401  (fixtures)
from test_review_app_support import add_video

from novaavatar import manifests, templates
from novaavatar.domain import ReviewState, validate_key, validate_video_id
from novaavatar.errors import CorruptError, InputError


def test_a_truncated_manifest_is_a_clear_error_without_its_text(
    api_env: Callable[..., None],  # noqa: F811
    serve: Callable[[], str],  # noqa: F811
    store: Any,
    storage: Path,
) -> None:
    add_video(store, 0, None)
    add_video(store, 1, None)
    raw = store.get_bytes("videos/vid-test0000/manifest.json")
    store.put_bytes("videos/vid-test0000/manifest.json", raw[: len(raw) // 2])
    secret_looking = raw[len(raw) // 4 : len(raw) // 4 + 24].decode(errors="ignore")
    with pytest.raises(CorruptError, match="vid-test0000 is truncated or not JSON") as err:
        manifests.load(store, "vid-test0000")
    assert secret_looking not in str(err.value)
    # the queue still lists the others
    assert [m.video_id for m in manifests.queue(store)] == ["vid-test0001"]
    base = serve()
    r = httpx.post(f"{base}/api/queue/vid-test0000/approve", json={}, headers=AUTH)
    assert r.status_code == 500 and r.json()["type"] == "urn:novaavatar:problem:corrupt-data"
    assert "restore videos/vid-test0000/manifest.json" in r.json()["detail"]
    assert secret_looking not in r.text and str(storage) not in r.text
    listed = httpx.get(f"{base}/api/queue", params={"state": "all"}, headers=AUTH)
    assert listed.status_code == 200
    assert [v["video_id"] for v in listed.json()["videos"]] == ["vid-test0001"]


@pytest.mark.parametrize("where", ["deep.toml", "deep.yaml"])
def test_a_deeply_nested_template_is_refused_not_a_recursion_error(where: str) -> None:
    depth = 20_000
    text = (
        "a = " + "[" * depth + "]" * depth if where.endswith(".toml") else "[" * depth + "]" * depth
    )
    with pytest.raises(InputError, match=f"template {where}: nested too deeply"):
        templates.parse(text, where)


@pytest.mark.parametrize(
    "family", ["/etc/passwd", "/no/such/font.ttf", "../fonts/x.ttf", "C:\\Windows\\a.ttf"]
)
def test_a_template_font_is_a_family_name_never_a_path(family: str) -> None:
    text = f'name = "acme"\nversion = 1\n[fonts]\nfamily = "{family}"\n'.replace("\\", "\\\\")
    with pytest.raises(InputError) as err:
        templates.parse(text, "acme.toml")
    # the same answer whether or not the file exists: the preview tells nothing about the host
    message = str(err.value).replace(family, "X")
    assert "field fonts.family" in message and "paths are not allowed" in message
    assert "exist" not in message and "No such file" not in message
    ok = templates.parse('name = "acme"\nversion = 1\n[fonts]\nfamily = "DejaVu Sans"\n', "a.toml")
    assert ok.fonts.family == "DejaVu Sans"


def test_lower_third_timing_has_an_upper_bound() -> None:
    text = 'name = "acme"\nversion = 1\n[lower_third]\nshow_from_s = 100000\n'
    with pytest.raises(InputError, match="field lower_third.show_from_s: .*300"):
        templates.parse(text, "acme.toml")


@pytest.mark.parametrize("bad", ["vid-abc123\n", "vid-abc123\r\n", "vid-abc123 "])
def test_ids_and_keys_with_a_trailing_newline_are_refused_early(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid video id"):
        validate_video_id(bad)
    with pytest.raises(ValueError, match="invalid store key"):
        validate_key(f"videos/{bad}")
    with pytest.raises(InputError, match="template"):
        templates.parse('name = "acme\\n"\nversion = 1\n', "acme.toml")


def test_a_job_error_shows_store_paths_relative_to_the_store(store: Any, storage: Path) -> None:
    from novaavatar.service import jobs as actions

    where = storage / "artifacts" / "videos" / "vid-x" / "final.mp4"

    def fails() -> None:
        raise OSError(f"cannot read {where}")

    job = actions.run_local("failing job", fails)
    deadline = time.monotonic() + 30
    while job.status != "failed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert job.error == "OSError: cannot read videos/vid-x/final.mp4", job.error
    assert manifests.queue(store, ReviewState.PENDING) == []
