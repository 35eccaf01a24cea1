"""Presenter profiles: every presenter with its portrait, consent, voice and layout, and a
form that saves a new version (a first one needs a portrait and the consent checkbox)."""

from __future__ import annotations

import streamlit as st

from novaavatar.errors import InputError, NovaAvatarError
from novaavatar.presenters import LAYOUTS, VOICE_KINDS, Presenter
from novaavatar.service import presenters
from novaavatar.store import ArtifactStore
from review_app import access, ui

NEW = "(new presenter)"
KIND_LABELS = {
    "espeak": "eSpeak NG voice (offline)",
    "openai": "OpenAI TTS voice (needs OPENAI_API_KEY)",
    "dia": "Dia clone of a reference clip (needs DIA_MODEL_PATH)",
}


def show(store: ArtifactStore, p: Presenter) -> None:
    photo, facts = st.columns([1, 3])
    try:
        photo.image(store.get_bytes(p.portrait_key), caption=p.portrait_key, width=160)
    except (NovaAvatarError, OSError) as e:
        photo.warning(f"portrait unreadable: {e}")
    when = p.consent.at.strftime("%Y-%m-%d %H:%M UTC")
    facts.markdown(
        f"**{p.ref}** — {p.description or 'no description'}  \n"
        f"Voice **{p.voice.describe()}** · layout **{p.layout}**  \n"
        f"Likeness consent: **{p.consent.by}**, {when} ({p.consent.via})  \n"
        f"Saved by {p.created_by}. A run uses it with `presenter={p.name}` or "
        f"`presenter={p.ref}`."
    )


def form(store: ArtifactStore, existing: list[Presenter]) -> None:
    st.subheader("Save a presenter")
    if saved := st.session_state.pop("presenter_saved", None):
        st.success(f"Stored **{saved}**: runs can use `presenter={saved.split('@')[0]}` now.")
    st.caption(
        "Every save is a new version; videos made with an older one keep its face and voice. "
        "Fields left as they are keep the last version's."
    )
    names = [NEW, *(p.name for p in existing)]
    pick = st.selectbox("Presenter", names, key="presenter_pick")
    before = next((p for p in existing if p.name == pick), None)
    slot = before.name if before is not None else "new"  # each presenter's fields start from it
    name = (
        st.text_input("Name (lowercase, e.g. anna)", key="presenter_name", max_chars=40)
        if before is None
        else before.name
    )
    portrait = st.file_uploader(
        "Portrait" + (" (leave empty to keep the current one)" if before else ""),
        type=["png", "jpg", "jpeg", "webp"],
        key="presenter_portrait",
    )
    attest = st.checkbox(
        "I have the right to use this likeness: the person shown agreed to be animated as a "
        "presenter (recorded with my name and the time)",
        key="presenter_consent",
    )
    old = before.voice if before is not None else None
    kind = st.radio(
        "Voice",
        VOICE_KINDS,
        index=VOICE_KINDS.index(old.kind) if old else 0,
        format_func=KIND_LABELS.__getitem__,
        key=f"presenter_voice_kind_{slot}",
        horizontal=True,
    )
    voice = clip = None
    clip_text = ""
    fallback = None
    if kind == "espeak":
        voice = st.text_input(
            "eSpeak voice (e.g. en-us, en-gb, en-us+f3)",
            value=old.name if old and old.kind == "espeak" else "en-us",
            key=f"presenter_espeak_{slot}",
        )
    else:
        if kind == "openai":
            voices = presenters.openai_voices()
            current = old.name if old and old.kind == "openai" else "nova"
            voice = st.selectbox(
                "OpenAI voice", voices, index=voices.index(current), key=f"presenter_openai_{slot}"
            )
        else:
            clip = st.file_uploader(
                "Reference clip: 5–15 s of the voice"
                + (" (leave empty to keep the current one)" if old and old.clip_key else ""),
                type=["wav", "mp3", "m4a", "ogg", "flac"],
                key="presenter_clip",
            )
            clip_text = st.text_input(
                "What the clip says",
                value=old.clip_text if old else "",
                key=f"presenter_clip_text_{slot}",
                max_chars=600,
            )
        fallback = st.text_input(
            "eSpeak voice when that provider is not set up",
            value=old.fallback if old else "en-us",
            key=f"presenter_fallback_{slot}",
        )
    layout = st.selectbox(
        "Default layout",
        LAYOUTS,
        index=LAYOUTS.index(before.layout) if before else 0,
        key=f"presenter_layout_{slot}",
        help="studio: in front of the background; pip: a window at the side; full: full frame",
    )
    description = st.text_input(
        "Description",
        value=before.description if before else "",
        key=f"presenter_description_{slot}",
        max_chars=300,
    )
    if not st.button("Save new version", type="primary", key="presenter_save"):
        return
    by = access.reviewer()
    if by is None:
        st.error("Enter your name in the sidebar first: it is recorded with the version.")
        return
    try:
        saved = presenters.save_version(
            store,
            (name or "").strip(),
            by=by,
            via="review page",
            portrait=presenters.Upload(portrait.getvalue(), portrait.name) if portrait else None,
            i_have_consent=attest,
            voice_kind=kind,
            voice=voice,
            fallback_voice=fallback,
            clip=presenters.Upload(clip.getvalue(), clip.name) if clip else None,
            clip_text=clip_text,
            layout=layout,
            description=description,
        )
    except InputError as e:
        st.error(str(e), icon=":material/block:")
        return
    except (NovaAvatarError, OSError) as e:
        st.error(f"Could not store the presenter: {e}", icon=":material/error:")
        return
    st.session_state["presenter_saved"] = saved.ref
    st.rerun()  # list the new version at once


def main() -> None:
    st.title("Presenters")
    _, store = ui.store_or_stop()
    try:
        existing = presenters.listing(store)
    except InputError as e:  # one broken version must not hide the form
        st.error(str(e), icon=":material/error:")
        existing = []
    st.caption(
        f"{len(existing)} presenter(s). A run picks one with `presenter` (name or "
        "name@version); without one, the template's, then DEFAULT_PRESENTER. What a run sets "
        "itself (portrait, voice, layout) wins over the presenter's."
    )
    for p in existing:
        show(store, p)
    form(store, existing)


main()
