"""Who is reviewing: a login form when ``REVIEW_PASSWORD`` is set, else a name in the sidebar.

``REVIEWERS`` (comma separated) optionally limits which names may sign in. The name is what
goes into each manifest's history; the password is compared in constant time and never shown.
"""

from __future__ import annotations

import hmac

import streamlit as st

_NAME = "reviewer"
_SIGNED_IN = "signed_in"


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
    """With a configured password, show the login form and stop until it is passed."""
    if password() is None or st.session_state.get(_SIGNED_IN):
        return
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
            st.rerun()
    st.stop()


def sidebar_identity() -> None:
    """The reviewer's name (editable when there is no login) and a sign-out button."""
    if password() is not None:
        st.sidebar.markdown(f"Signed in as **{st.session_state.get(_NAME, '?')}**")
        if st.sidebar.button("Sign out"):
            st.session_state.pop(_SIGNED_IN, None)
            st.session_state.pop(_NAME, None)
            st.rerun()
        return
    allowed = allowed_reviewers()
    if allowed:
        st.sidebar.selectbox("Reviewer", allowed, key=_NAME)
    else:
        st.sidebar.text_input(
            "Reviewer name",
            key=_NAME,
            placeholder="who decides (recorded)",
            help="Recorded with every approve, reject and regenerate.",
        )


def reviewer() -> str | None:
    """The current reviewer's name, or None when nobody is named yet."""
    name = st.session_state.get(_NAME)
    if not isinstance(name, str) or not name.strip():
        return None
    if password() is not None and not st.session_state.get(_SIGNED_IN):
        return None
    return name.strip()
