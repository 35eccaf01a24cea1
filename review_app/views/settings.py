"""Settings: the configuration and providers; non-secrets editable, secrets write-only."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from novaavatar import settings_edit
from novaavatar.errors import NovaAvatarError
from novaavatar.service import jobs, lookup
from novaavatar.settings import Settings, get_settings
from review_app import access, ui

STAGES = ("script", "background", "speech", "avatar")


def config_rows() -> list[dict[str, str]]:
    """Every setting; secrets only as "set"/"not set", everything else (URLs too) as it is."""
    settings, _ = ui.store_or_stop()
    return [
        {
            "group": Settings.group_of(name),
            "setting": name.upper(),
            "value": settings_edit.shown(settings, name) or "—",
            "about": info.description or "",
        }
        for name, info in type(settings).model_fields.items()
    ]


def _who() -> str:
    return access.reviewer() or "review page"


def _report(change: settings_edit.Change) -> None:
    what = [f"{n.upper()}: {a or '—'} → {b or '—'}" for n, (a, b) in change.changed.items()]
    what += [f"{n.upper()}: set (never shown)" for n in change.secrets_set]
    if not what:
        st.session_state["settings_flash"] = ("info", "Nothing changed.")
        return
    restarts = "; ".join(f"{n.upper()}: {note}" for n, note in change.restarts.items())
    text = f"Saved to `.env` — {', '.join(what)}. Restart: {restarts}."
    if change.overridden:
        names = ", ".join(n.upper() for n in change.overridden)
        text += f" Note: {names} is set in this process's environment, which wins over `.env`."
    st.session_state["settings_flash"] = ("success", text)
    get_settings.cache_clear()  # this page uses the new values at once


def save_setting() -> None:
    name = st.session_state.get("settings_name")
    if not name:
        return
    try:
        change = settings_edit.save({name: st.session_state.get("settings_value", "")}, by=_who())
    except NovaAvatarError as e:
        st.session_state["settings_flash"] = ("error", f"Not saved: {e}")
        return
    _report(change)


def save_secret() -> None:
    name = st.session_state.get("secret_name")
    value = str(st.session_state.get("secret_value", ""))
    st.session_state["secret_value"] = ""  # write-only: the field never keeps it
    if not name or not value.strip():
        st.session_state["settings_flash"] = ("error", "Type the new value of the secret first.")
        return
    try:
        change = settings_edit.save({}, {name: value}, by=_who())
    except NovaAvatarError:
        # the model's message may quote what it refused: never show a secret's value
        st.session_state["settings_flash"] = ("error", f"Not saved: {name.upper()} is invalid.")
        return
    _report(change)


def fill_value() -> None:
    """The edit field starts from the chosen setting's current value."""
    settings, _ = ui.store_or_stop()
    name = st.session_state.get("settings_name")
    st.session_state["settings_value"] = settings_edit.shown(settings, name) if name else ""


def edit_section(settings: Settings) -> None:
    kind, text = st.session_state.pop("settings_flash", (None, ""))
    if kind:
        {"success": st.success, "error": st.error, "info": st.info}[kind](text)
    names = settings_edit.editable()
    if "settings_name" not in st.session_state:
        st.session_state["settings_name"] = "default_style"
        fill_value()
    edit_col, secret_col = st.columns(2, gap="large")
    with edit_col:
        st.subheader("Change a setting")
        st.selectbox(
            "Setting", names, key="settings_name", format_func=str.upper, on_change=fill_value
        )
        name = st.session_state["settings_name"]
        st.text_input(
            "Value (empty: the default)",
            key="settings_value",
            help=Settings.model_fields[name].description or None,
        )
        st.caption(f"Takes effect: {settings_edit.restart_note(name)}.")
        st.button("Save setting", icon=":material/save:", type="primary", on_click=save_setting)
    with secret_col:
        st.subheader("Set or replace a secret")
        secret = st.selectbox(
            "Secret",
            settings_edit.secrets(),
            key="secret_name",
            format_func=lambda n: f"{n.upper()} ({settings_edit.shown(settings, n)})",
        )
        st.text_input(
            "New value (write-only: never shown again)", key="secret_value", type="password"
        )
        st.caption(f"Takes effect: {settings_edit.restart_note(secret)}.")
        st.button("Set secret", icon=":material/key:", on_click=save_secret)
    log = settings_edit.history(limit=10)
    if log:
        with st.expander(f"Recent changes · {len(log)}", icon=":material/history:"):
            for entry in log:
                what = [
                    f"{k}: {v['from'] or '—'} → {v['to'] or '—'}"
                    for k, v in entry["changed"].items()
                ]
                what += [f"{k} set" for k in entry.get("secrets_set", [])]
                st.markdown(
                    f"{ui.when(datetime.fromisoformat(entry['at']))} "
                    f"by **{entry['by']}** — {', '.join(what)}"
                )


def provider_rows() -> list[dict[str, str]]:
    """Each stage's providers in the order they are tried, and which one works now."""
    settings, _ = ui.store_or_stop()
    try:
        chains = lookup.provider_chains(settings)
    except Exception as e:  # a broken provider module is shown, not raised
        return [{"stage": "?", "provider": "?", "available": f"error: {e}", "active": ""}]
    rows = []
    for stage, providers in chains.items():
        active = next((p.name for p in providers if _available(p)), None)
        for p in providers:
            rows.append(
                {
                    "stage": stage,
                    "provider": p.name,
                    "available": "yes" if _available(p) else "no",
                    "active": "●" if p.name == active else "",
                }
            )
    return rows


def _available(p: object) -> bool:
    try:
        return bool(p.available())  # type: ignore[attr-defined]
    except Exception:
        return False


def main() -> None:
    st.title("Settings")
    _settings, store = ui.store_or_stop()
    st.caption(
        "From the environment and `.env`; changes made here are checked by the same settings "
        "model, written to `.env` and logged with who and when. A variable set in the "
        "environment wins over `.env`."
    )
    settings, _ = ui.store_or_stop()
    edit_section(settings)

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Where things are")
        reviewers = (
            " · reviewers: " + ", ".join(access.allowed_reviewers())
            if access.allowed_reviewers()
            else ""
        )
        st.markdown(
            f"- Artifact store: `{store.uri}`\n"
            f"- Prefect server: `{jobs.prefect_server() or 'temporary (no PREFECT_API_URL)'}`\n"
            "- Review login: "
            f"{'password set' if access.password() else 'not set (anyone on this machine)'}"
            f"{reviewers}\n"
            f"- Listening on: `{st.get_option('server.address') or 'all interfaces'}`"
        )
    with right:
        st.subheader("Providers per stage")
        st.dataframe(pd.DataFrame(provider_rows()), hide_index=True, width="stretch")
        st.caption("● active: the first available provider; the next one takes over on failure.")

    st.subheader("Configuration")
    st.dataframe(pd.DataFrame(config_rows()), hide_index=True, width="stretch", height=560)


main()
