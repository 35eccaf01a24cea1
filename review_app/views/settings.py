"""Settings: the effective configuration and providers; secrets show only "set" / "not set"."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd
import streamlit as st
from pydantic import SecretStr

from novaavatar.service import jobs
from review_app import access, ui

STAGES = ("script", "background", "speech", "avatar")


def config_rows() -> list[dict[str, str]]:
    settings, _ = ui.store_or_stop()
    rows = []
    for name, info in type(settings).model_fields.items():
        value = getattr(settings, name)
        if isinstance(value, SecretStr) or "key" in name or "secret" in name or "token" in name:
            shown = (
                "set"
                if value and (not isinstance(value, SecretStr) or value.get_secret_value())
                else "not set"
            )
        elif isinstance(value, list):
            shown = ", ".join(map(str, value)) or "—"
        else:
            shown = "—" if value is None else str(value)
        rows.append({"setting": name.upper(), "value": shown, "about": info.description or ""})
    return rows


def provider_rows() -> list[dict[str, str]]:
    settings, _ = ui.store_or_stop()
    rows = []
    for stage in STAGES:
        try:
            module = importlib.import_module(f"tasks.{stage}")
            providers = (
                list(module.default_providers()) if hasattr(module, "default_providers") else []
            )
        except Exception as e:  # a broken provider module is shown, not raised
            rows.append({"stage": stage, "provider": "?", "available": f"error: {e}", "active": ""})
            continue
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
        if stage == "avatar":
            model = settings.omniavatar_model_path
            found = model is not None and Path(model).exists()
            rows.append(
                {
                    "stage": stage,
                    "provider": "omniavatar",
                    "available": "yes" if found else "no (OMNIAVATAR_MODEL_PATH)",
                    "active": "●" if found else "",
                }
            )
            rows.append(
                {
                    "stage": stage,
                    "provider": "lite",
                    "available": "yes",
                    "active": "" if found else "●",
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
        "Read from the environment and `.env` when the page started; change them there and restart."
    )

    left, right = st.columns(2, gap="large")
    with left:
        st.subheader("Where things are")
        st.markdown(
            f"- Artifact store: `{store.uri}`\n"
            f"- Prefect server: `{jobs.prefect_server() or 'temporary (no PREFECT_API_URL)'}`\n"
            f"- Review login: {'password set' if access.password() else 'not set (anyone on this machine)'}"
            f"{' · reviewers: ' + ', '.join(access.allowed_reviewers()) if access.allowed_reviewers() else ''}\n"
            f"- Listening on: `{st.get_option('server.address') or 'all interfaces'}`"
        )
    with right:
        st.subheader("Providers per stage")
        st.dataframe(pd.DataFrame(provider_rows()), hide_index=True, width="stretch")
        st.caption("● active: the first available provider; the next one takes over on failure.")

    st.subheader("Configuration")
    st.dataframe(pd.DataFrame(config_rows()), hide_index=True, width="stretch", height=560)


main()
