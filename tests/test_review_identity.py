"""The reviewer's identity cookie: signed, expiring, and void once its signer changes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from review_app import access


@pytest.fixture(autouse=True)
def _plain(storage: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from novaavatar.settings import get_settings

    for name in ("REVIEW_PASSWORD", "REVIEWERS", "REVIEW_COOKIE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()


def test_a_signed_name_verifies_and_the_key_is_private(storage: Path) -> None:
    token = access.sign("Ada", False)
    assert access.verify(token) == ("Ada", False)
    key = storage / "review-cookie.key"
    assert key.stat().st_mode & 0o077 == 0  # only the page's user reads the signing key
    assert key.read_bytes() not in token.encode()


def test_an_altered_or_foreign_cookie_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    token = access.sign("Ada", False)
    version, body, mac = token.split(".")
    forged_body = access.sign("Mallory", True).split(".")[1]
    assert access.verify(f"{version}.{forged_body}.{mac}") is None  # another name, same MAC
    altered = mac[:-2] + ("AA" if mac[-2:] != "AA" else "QQ")  # always another MAC
    assert access.verify(f"{version}.{body}.{altered}") is None
    assert (
        access.verify("Ada") is None and access.verify("") is None and access.verify(None) is None
    )
    monkeypatch.setenv("REVIEW_COOKIE_SECRET", "another page's key")
    assert access.verify(token) is None


def test_cookies_expire_and_follow_the_password_and_reviewers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from novaavatar.settings import get_settings

    now = time.time()
    name = access.sign("Ada", False, now=now - (access.NAME_DAYS * 86400 - 60))
    assert access.verify(name, now=now) == ("Ada", False)
    assert access.verify(name, now=now + 120) is None  # 30 days for a name
    monkeypatch.setenv("REVIEW_PASSWORD", "open sesame")
    get_settings.cache_clear()
    signed = access.sign("Ada", True, now=now)
    assert access.verify(signed, now=now + 3600) == ("Ada", True)
    assert access.verify(signed, now=now + access.SIGN_IN_HOURS * 3600 + 60) is None
    monkeypatch.setenv("REVIEW_PASSWORD", "a new password")  # signs everybody out
    get_settings.cache_clear()
    assert access.verify(signed, now=now) is None
    signed = access.sign("Ada", True, now=now)
    monkeypatch.setenv("REVIEWERS", "Grace")  # Ada may no longer review
    get_settings.cache_clear()
    assert access.verify(signed, now=now) is None
