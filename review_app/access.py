"""Who is reviewing: a login form when ``REVIEW_PASSWORD`` is set, else a name in the sidebar.

``REVIEWERS`` (comma separated) optionally limits which names may sign in. The name is what
goes into each manifest's history; the password is compared in constant time and never shown.

The identity outlives a reload: it is kept in a signed cookie (``novaavatar_reviewer``: the
name, whether it signed in, when; an HMAC-SHA256 over them with a key kept in
``<STORAGE_PATH>/review-cookie.key``, or ``REVIEW_COOKIE_SECRET``, mixed with the password, so
a new password signs everybody out). A name is kept 30 days, a sign-in 12 hours; a cookie
that was altered, has expired or names someone no longer allowed is ignored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path

import streamlit as st

_NAME = "reviewer"
_SIGNED_IN = "signed_in"
COOKIE = "novaavatar_reviewer"
NAME_DAYS = 30
SIGN_IN_HOURS = 12
_WRITTEN = "_reviewer_cookie_written"
_RESTORED = "_reviewer_cookie_read"


def _key_file() -> Path:
    from novaavatar.errors import SettingsError
    from novaavatar.settings import load_settings

    try:
        return Path(load_settings().storage_path) / "review-cookie.key"
    except SettingsError:
        return Path(os.environ.get("STORAGE_PATH", "storage")) / "review-cookie.key"


def _cookie_key() -> bytes:
    """The signing key: ``REVIEW_COOKIE_SECRET``, else a random key made once (mode 0600)."""
    secret = os.environ.get("REVIEW_COOKIE_SECRET", "").encode()
    if not secret:
        path = _key_file()
        try:
            secret = path.read_bytes()
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(secrets.token_bytes(32))
            except FileExistsError:  # another session made it first
                pass
            secret = path.read_bytes()
    return hmac.new(secret, (password() or "").encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(name: str, signed_in: bool, now: float | None = None) -> str:
    """The cookie value for ``name``: its fields and their HMAC, nothing secret in it."""
    body = _b64(json.dumps({"n": name, "s": signed_in, "t": int(now or time.time())}).encode())
    mac = _b64(hmac.new(_cookie_key(), body.encode(), hashlib.sha256).digest())
    return f"v1.{body}.{mac}"


def verify(token: str | None, now: float | None = None) -> tuple[str, bool] | None:
    """(name, signed in) from a cookie value this page signed and that has not expired."""
    if not token or token.count(".") != 2:
        return None
    version, body, mac = token.split(".")
    want = _b64(hmac.new(_cookie_key(), body.encode(), hashlib.sha256).digest())
    if version != "v1" or not hmac.compare_digest(mac, want):
        return None
    try:
        fields = json.loads(_unb64(body))
        name, signed_in, at = str(fields["n"]).strip(), bool(fields["s"]), float(fields["t"])
    except (ValueError, KeyError, TypeError):
        return None
    age = (now or time.time()) - at
    if not name or age < -300 or age > (SIGN_IN_HOURS * 3600 if signed_in else NAME_DAYS * 86400):
        return None
    allowed = allowed_reviewers()
    if allowed and name not in allowed:
        return None
    return name, signed_in


def _cookie_identity() -> tuple[str, bool] | None:
    try:
        raw = st.context.cookies.get(COOKIE)
    except Exception:  # no browser behind this session (tests, scripts)
        return None
    return verify(raw)


def _write_cookie(identity: tuple[str, bool] | None) -> None:
    """Set the cookie for ``identity`` (None: clear it) in the browser, once per change."""
    if st.session_state.get(_WRITTEN, False) == identity:
        return
    st.session_state[_WRITTEN] = identity
    token = sign(*identity) if identity else ""
    age = (SIGN_IN_HOURS * 3600 if identity[1] else NAME_DAYS * 86400) if identity else 0
    with st.sidebar:
        st.html(
            "<script>(() => { const d = window.parent && window.parent.document ? "
            "window.parent.document : document; "
            f"d.cookie = '{COOKIE}={token}; Path=/; Max-Age={age}; SameSite=Strict'; "
            "})();</script>",
            unsafe_allow_javascript=True,
        )


def remember() -> None:
    """Keep the current reviewer in the browser's cookie (after a sign-in or a new name)."""
    name = reviewer()
    _write_cookie((name, password() is not None) if name else None)


def restore() -> None:
    """Once per browser session: the reviewer the cookie names, if it is valid."""
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    found = _cookie_identity()
    if found is None:
        return
    name, signed_in = found
    if password() is not None:
        if signed_in:
            st.session_state[_SIGNED_IN] = True
            st.session_state[_NAME] = name
    elif not st.session_state.get(_NAME):
        st.session_state[_NAME] = name
    st.session_state[_WRITTEN] = found


def password() -> str | None:
    """``REVIEW_PASSWORD`` from the settings (env or .env)."""
    from novaavatar.errors import SettingsError
    from novaavatar.settings import ReviewPageSettings, load_settings

    try:
        secret = load_settings().review_password
    except SettingsError:  # other settings are broken (a banner says so): still guard the page
        secret = ReviewPageSettings().review_password  # its own group reads on its own
    return secret.get_secret_value() if secret is not None else None


def allowed_reviewers() -> list[str]:
    from novaavatar.errors import SettingsError
    from novaavatar.settings import ReviewPageSettings, load_settings

    try:
        return list(load_settings().reviewers)
    except SettingsError:
        return list(ReviewPageSettings().reviewers)


def check_login(name: str, given: str) -> str | None:
    """None when ``name``/``given`` may sign in, else the reason shown to the user."""
    name = name.strip()
    expected = password()
    if not name:
        return "Enter your name: it is recorded with every decision."
    allowed = allowed_reviewers()
    if allowed and name not in allowed:
        return f"{name!r} is not one of the configured reviewers."
    if expected is not None and not hmac.compare_digest(given.encode(), expected.encode()):
        return "Wrong password."
    return None


def require_login() -> None:
    """With a configured password, show the login form and stop until it is passed (a valid
    sign-in cookie from an earlier visit passes it)."""
    restore()
    if password() is None or st.session_state.get(_SIGNED_IN):
        return
    _write_cookie(None)  # signed out (or never in): no sign-in cookie stays behind
    st.title("NovaAvatar review")
    with st.form("login"):
        name = st.text_input("Your name", key="login_name")
        given = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        problem = check_login(name, given)
        if problem:
            st.error(problem)
        else:
            st.session_state[_SIGNED_IN] = True
            st.session_state[_NAME] = name.strip()
            st.session_state.pop(_WRITTEN, None)  # the next run writes the sign-in cookie
            st.rerun()
    st.stop()


def sidebar_identity() -> None:
    """The reviewer's name (editable when there is no login) and a sign-out button."""
    if password() is not None:
        st.sidebar.markdown(f"Signed in as **{st.session_state.get(_NAME, '?')}**")
        if st.sidebar.button("Sign out"):
            st.session_state.pop(_SIGNED_IN, None)
            st.session_state.pop(_NAME, None)
            st.session_state[_WRITTEN] = ("", True)  # the sign-in page clears the cookie
            st.rerun()
        remember()
        return
    allowed = allowed_reviewers()
    if allowed:
        if st.session_state.get(_NAME) not in allowed:  # nobody is picked for the reviewer
            st.session_state[_NAME] = None
        st.sidebar.selectbox("Reviewer", allowed, key=_NAME, placeholder="who decides (recorded)")
    else:
        st.sidebar.text_input(
            "Reviewer name",
            key=_NAME,
            placeholder="who decides (recorded)",
            help="Recorded with every approve, reject, regenerate and export; remembered "
            "in this browser for 30 days.",
        )
    remember()


def reviewer() -> str | None:
    """The current reviewer's name, or None when nobody is named yet."""
    name = st.session_state.get(_NAME)
    if not isinstance(name, str) or not name.strip():
        return None
    if password() is not None and not st.session_state.get(_SIGNED_IN):
        return None
    return name.strip()
