"""Manual creation: an uploaded portrait speaking uploaded audio or a typed text."""

from __future__ import annotations

import streamlit as st

from novaavatar import consent
from novaavatar.domain import CONSENT_STATEMENT
from novaavatar.errors import InputError, NovaAvatarError
from novaavatar.languages import LANGUAGES
from novaavatar.service import production
from novaavatar.store import ArtifactStore
from novaavatar.uploads import store_audio, store_portrait
from review_app import access, ui

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


def consent_controls(needed: bool) -> str | None:
    """The name of whoever attests the right to use the uploaded likeness; None: not given."""
    if not needed:
        return None
    st.checkbox(
        "I have the right to use this likeness: the person shown agreed to be animated as a "
        "presenter (or it is me, or not a real person)",
        key="manual_consent",
        help=CONSENT_STATEMENT + " Recorded with your name and the time; the manifest and "
        "the exports carry it.",
    )
    name = access.reviewer() or st.text_input(
        "Your name (recorded with the consent)", key="manual_consent_by"
    )
    if not st.session_state.get("manual_consent") or not (name or "").strip():
        st.caption("A portrait needs the consent box ticked and your name before it is animated.")
        return None
    return name.strip()


def main() -> None:
    st.title("Manual creation")
    settings, store = ui.store_or_stop()

    title = st.text_input("Title", key="manual_title", max_chars=200)
    conversation = st.toggle(
        "Conversation: a host and a guest",
        key="manual_conversation",
        help="two presenters side by side, each with their own voice",
    )
    explainer = not conversation and st.toggle(
        "Explainer: scenes, each over its own background",
        key="manual_explainer",
        help="a paragraph per scene (3-8), a blank line between them; '# Title' names a scene",
    )
    guest_portrait_key = None
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
        if conversation:
            guest_portrait_key = checked_upload(
                store, "Guest portrait (empty: the built-in guest)", "manual_guest", "portrait"
            )
    with speech_col:
        mode = "Text to speech"
        if not conversation and not explainer:
            mode = st.radio(
                "Speech", ("Text to speech", "Uploaded audio"), horizontal=True, key="manual_mode"
            )
        audio_key, text = None, ""
        if conversation:
            text = st.text_area(
                "The conversation, a turn per line",
                key="manual_dialogue",
                max_chars=3000,
                height=180,
                placeholder="Host: What happened today?\nGuest: The council approved the plan.",
            )
        elif explainer:
            text = st.text_area(
                "The scenes, a paragraph each",
                key="manual_scenes",
                max_chars=5000,
                height=220,
                placeholder="# The plan\nThe council approved the plan.\n\n# What changes\n...",
            )
        elif mode == "Uploaded audio":
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
    language = st.selectbox(
        "Language of the text",
        list(LANGUAGES),
        format_func=lambda c: f"{LANGUAGES[c].name} ({c})",
        key="manual_language",
        help="picks the voice when it is left at en-us, and how captions are written "
        "(right to left for Arabic and Hebrew, no spaces in Chinese and Japanese)",
    )
    from novaavatar import templates

    aspect_col, template_col, layout_col, voice_col = st.columns(4)
    aspect = aspect_col.selectbox(
        "Aspect", ASPECTS, index=ASPECTS.index(settings.default_aspect), key="manual_aspect"
    )
    refs = [*templates.available(store), templates.NO_TEMPLATE]
    template = template_col.selectbox(
        "Brand template",
        refs,
        index=len(refs) - 1,  # an upload is not a news item: plain unless asked
        key="manual_template",
        help="logo, colours, lower third, intro/outro cards; none: the plain look",
    )
    layout = layout_col.selectbox(
        "Layout",
        ("template's", "studio", "pip", "full"),
        key="manual_layout",
        help="studio: presenter in front; pip: a window at the side; "
        "full: the portrait fills the frame",
    )
    from novaavatar.service import presenters

    names = [p.ref for p in presenters.listing(store)]
    default = "template's, else DEFAULT_PRESENTER"
    presenter = st.selectbox(
        "Presenter profile",
        [default, *names, "none"],
        key="manual_presenter",
        help="a saved presenter (Presenters page): its portrait, voice and layout fill what "
        "is not set here (an uploaded portrait wins); none: no profile",
    )
    voice: str | None = None
    if presenter in (default, "none"):
        voice = voice_col.text_input(
            "Voice (eSpeak NG)", value=settings.tts_voice, key="manual_voice"
        )
    else:
        voice_col.caption(f"Voice: {presenter}'s")
    guest_voice = None
    if conversation:
        guest_voice = (
            voice_col.text_input(
                "Guest voice", key="manual_guest_voice", placeholder="empty: a contrasting voice"
            ).strip()
            or None
        )

    portraits = [k for k in (portrait_key, guest_portrait_key) if k]
    attested_by = consent_controls(bool(portraits))
    complete = bool(title.strip()) and (audio_key is not None or bool(text.strip()))
    if not st.button(
        "Create video",
        type="primary",
        icon=":material/movie:",
        disabled=not complete or (bool(portraits) and attested_by is None),
    ):
        if not complete:
            st.caption("Needs a title, and either uploaded audio or a text to speak.")
        return
    try:
        for key in portraits:
            consent.attest(store, key, attested_by, via="review page")
    except InputError as e:
        st.error(str(e), icon=":material/block:")
        return
    chosen = dict(
        portrait_key=portrait_key,
        aspect=aspect,
        voice=voice,
        layout=None if layout == "template's" else layout,
        template=template,
        language=language,
        presenter=None if presenter == default else presenter,
    )
    if conversation:
        chosen.update(
            format="conversation", guest_voice=guest_voice, guest_portrait_key=guest_portrait_key
        )
    if explainer:
        chosen.update(format="explainer")
    try:
        options = production.options_from(chosen)
        work = production.manual(store, title, options, audio_key, text.strip() or None, prompt)
    except InputError as e:
        st.error(f"Nothing was started: {e}", icon=":material/block:")
        return
    job = work.start(by=ui.who())
    st.success(
        f"Started ({job.where}): progress shows in the sidebar; "
        "the video then waits in the review queue."
    )


main()
