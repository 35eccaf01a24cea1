"""Manual creation: an uploaded portrait speaking uploaded audio or a typed text."""

from __future__ import annotations

import streamlit as st

from novaavatar.errors import InputError, NovaAvatarError
from novaavatar.store import ArtifactStore
from novaavatar.uploads import store_audio, store_portrait
from review_app import actions, ui

ASPECTS = ("9:16", "16:9", "1:1")


def checked_upload(store: ArtifactStore, label: str, key: str, kind: str) -> str | None:
    """The store key of a valid upload (checked by content), else None with the reason shown."""
    upload = st.file_uploader(label, key=key)
    if upload is None:
        return None
    try:
        if kind == "portrait":
            return store_portrait(store, upload.getvalue(), upload.name)
        return store_audio(store, upload.getvalue(), upload.name)
    except InputError as e:
        st.error(str(e), icon=":material/block:")
    except (NovaAvatarError, OSError) as e:
        st.error(f"Could not store {upload.name!r}: {e}")
    return None


def main() -> None:
    st.title("Manual creation")
    settings, store = ui.store_or_stop()
    if not actions.manual_create_available():
        st.info(
            "**Coming with the manual-create flow** (`flows.manual.manual_create`).",
            icon=":material/construction:",
        )
        return

    title = st.text_input("Title", key="manual_title", max_chars=200)
    portrait_col, speech_col = st.columns(2, gap="large")
    with portrait_col:
        portrait_key = checked_upload(
            store,
            "Portrait (JPEG, PNG or WebP; empty: the built-in presenter)",
            "manual_portrait",
            "portrait",
        )
        if portrait_key:
            st.image(store.get_bytes(portrait_key), width=160)
    with speech_col:
        mode = st.radio(
            "Speech", ("Text to speech", "Uploaded audio"), horizontal=True, key="manual_mode"
        )
        audio_key, text = None, ""
        if mode == "Uploaded audio":
            audio_key = checked_upload(
                store, "Audio (WAV, MP3, FLAC or OGG)", "manual_audio", "audio"
            )
        else:
            text = st.text_area(
                "What the presenter says", key="manual_text", max_chars=3000, height=140
            )
    prompt = st.text_input(
        "Background prompt", key="manual_prompt", placeholder="e.g. a calm newsroom at dusk"
    )
    aspect_col, layout_col, voice_col = st.columns(3)
    aspect = aspect_col.selectbox(
        "Aspect", ASPECTS, index=ASPECTS.index(settings.default_aspect), key="manual_aspect"
    )
    layout = layout_col.selectbox(
        "Layout",
        ("studio", "pip", "full"),
        key="manual_layout",
        help="studio: presenter in front; pip: a window at the side; full: the portrait fills the frame",
    )
    voice = voice_col.text_input("Voice (eSpeak NG)", value=settings.tts_voice, key="manual_voice")

    complete = bool(title.strip()) and (audio_key is not None or bool(text.strip()))
    if not st.button(
        "Create video", type="primary", icon=":material/movie:", disabled=not complete
    ):
        if not complete:
            st.caption("Needs a title, and either uploaded audio or a text to speak.")
        return
    job = actions.manual_create(
        dict(
            title=title.strip(), portrait_key=portrait_key, audio_key=audio_key,
            text=text.strip() or None, prompt=prompt, aspect=aspect, voice=voice,
            layout=layout,
        )
    )  # fmt: skip
    st.success(
        f"Started ({job.where}): progress shows in the sidebar; the video then waits in the review queue."
    )


main()
