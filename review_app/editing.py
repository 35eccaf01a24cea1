"""Edit before approve, on the review page: change the script (text, title, hashtags, call to
action) of a video that is not approved yet; a new take is made and reviewed again.

Its own section (called once by the review view) so the decision controls stay as they are.
"""

from __future__ import annotations

import streamlit as st

from novaavatar.domain import ReviewEvent, ReviewState, VideoManifest
from novaavatar.errors import ConflictError, NovaAvatarError
from novaavatar.service import editing, jobs
from novaavatar.store import ArtifactStore
from review_app import access

EDITABLE = (ReviewState.PENDING, ReviewState.REJECTED, ReviewState.FAILED)
_FLASH = "edit_flash"


def _key(m: VideoManifest, field: str) -> str:
    """A widget key per video and version: another video, or a new take, starts afresh."""
    return f"edit_{field}_{m.video_id}_{m.version}"


def _submit_edit(store: ArtifactStore, m: VideoManifest) -> None:
    by = access.reviewer()
    if by is None:
        st.session_state[_FLASH] = (
            "error",
            "Enter your name in the sidebar first: it is recorded with the edit.",
        )
        return
    assert m.script is not None
    text = str(st.session_state.get(_key(m, "text"), ""))
    title = str(st.session_state.get(_key(m, "title"), ""))
    tags = str(st.session_state.get(_key(m, "tags"), ""))
    cta = str(st.session_state.get(_key(m, "cta"), ""))
    keywords = tuple(t.lstrip("#") for t in tags.replace(",", " ").split() if t.strip("#"))
    old = m.script
    changes = editing.ScriptChanges(  # only what the reviewer changed
        text=text if text.strip() != editing.editable(m).strip() else None,
        title=title if title != old.title else None,
        keywords=keywords if keywords != old.keywords else None,
        call_to_action=cta if cta != old.call_to_action else None,
    )
    try:
        work = editing.edit_script(store, m.video_id, changes, by, expected_version=m.version)
    except ConflictError as e:
        st.session_state[_FLASH] = ("error", f"Conflict — not saved. {e}")
        return
    except (NovaAvatarError, ValueError, OSError) as e:
        st.session_state[_FLASH] = ("error", f"Not started: {e}")
        return
    job = work.start(by=by)
    st.session_state[_FLASH] = (
        "success",
        f"Re-rendering `{m.video_id}` with your script ({job.where}): speech, avatar, compose "
        "and quality run again; the video returns to the queue when done.",
    )


def _show_flash() -> None:
    kind, text = st.session_state.pop(_FLASH, (None, ""))
    if kind == "success":
        st.success(text, icon=":material/edit_note:")
    elif kind == "error":
        st.error(text, icon=":material/error:")


def script_editor(store: ArtifactStore, m: VideoManifest) -> None:
    """An "Edit the script" section: the spoken text in its format, title, hashtags and call
    to action, and a button that re-renders only what the script feeds."""
    _show_flash()
    if m.script is None:
        return
    if m.state not in EDITABLE:
        st.caption(f"A {m.state.value} video is not edited; reject it first to change the script.")
        return
    running = jobs.running_for(m.video_id)
    hint = {
        "conversation": "One turn per line, starting 'Host:' or 'Guest:'.",
        "explainer": "One paragraph per scene, a blank line between, each starting '# Title'.",
    }.get(m.options.format, "What the presenter says.")
    with st.expander("Edit the script", icon=":material/edit:", expanded=False):
        with st.form(f"edit_script_{m.video_id}", border=False):
            st.text_area("Script", editing.editable(m), key=_key(m, "text"), height=220, help=hint)
            st.text_input("Title", m.script.title, key=_key(m, "title"), max_chars=200)
            st.text_input(
                "Hashtags",
                " ".join(f"#{k}" for k in m.script.keywords),
                key=_key(m, "tags"),
                help="Separated by spaces or commas.",
            )
            st.text_input(
                "Description / call to action", m.script.call_to_action, key=_key(m, "cta")
            )
            st.form_submit_button(
                "Re-render with this script",
                icon=":material/movie_edit:",
                disabled=running is not None,
                on_click=_submit_edit,
                args=(store, m),
            )
        st.caption(
            "Speech, avatar, compose and the quality checks run again; the background stays. "
            "The diff against the generated script is kept in the history."
        )


def _submit_trim(store: ArtifactStore, m: VideoManifest) -> None:
    by = access.reviewer()
    if by is None:
        st.session_state[_FLASH] = (
            "error",
            "Enter your name in the sidebar first: it is recorded with the trim.",
        )
        return
    start = float(st.session_state.get(_key(m, "start"), 0.0))
    end = float(st.session_state.get(_key(m, "end"), 0.0))
    try:
        work = editing.trim(store, m.video_id, start, end, by, expected_version=m.version)
    except ConflictError as e:
        st.session_state[_FLASH] = ("error", f"Conflict — not saved. {e}")
        return
    except (NovaAvatarError, ValueError, OSError) as e:
        st.session_state[_FLASH] = ("error", f"Not started: {e}")
        return
    job = work.start(by=by)
    st.session_state[_FLASH] = (
        "success",
        f"Trimming `{m.video_id}` to {start:g}–{end:g} s ({job.where}): the final video is "
        "re-encoded, not rendered again.",
    )


def trim_editor(store: ArtifactStore, m: VideoManifest) -> None:
    """A "Trim" section: the seconds of the full video to keep."""
    full = m.trim.untrimmed if m.trim is not None else m.final
    if full is None:
        return
    length = round(full.duration_s, 2)
    start0, end0 = (m.trim.start_s, m.trim.end_s) if m.trim is not None else (0.0, length)
    with st.expander("Trim", icon=":material/content_cut:", expanded=False):
        with st.form(f"trim_{m.video_id}", border=False):
            start_col, end_col = st.columns(2)
            start_col.number_input(
                "Keep from (s)", 0.0, length, float(start0), step=0.1, key=_key(m, "start")
            )
            end_col.number_input(
                "Keep until (s)",
                0.0,
                length,
                float(min(end0, length)),
                step=0.1,
                key=_key(m, "end"),
            )
            st.form_submit_button(
                "Trim",
                icon=":material/content_cut:",
                on_click=_submit_trim,
                args=(store, m),
                disabled=jobs.running_for(m.video_id) is not None,
            )
        st.caption(
            f"Seconds of the full {length:g} s video. Only the final video is re-encoded (no "
            "re-render); captions move with the cut; the quality checks run again."
        )


def _submit_background(store: ArtifactStore, m: VideoManifest) -> None:
    by = access.reviewer()
    if by is None:
        st.session_state[_FLASH] = (
            "error",
            "Enter your name in the sidebar first: it is recorded with the change.",
        )
        return
    upload = st.session_state.get(_key(m, "bg_image"))
    prompt = str(st.session_state.get(_key(m, "bg_prompt"), "")).strip()
    try:
        work = editing.swap_background(
            store,
            m.video_id,
            by,
            image=upload.getvalue() if upload is not None else None,
            image_name=upload.name if upload is not None else "background",
            prompt=prompt if upload is None else None,
            expected_version=m.version,
        )
    except ConflictError as e:
        st.session_state[_FLASH] = ("error", f"Conflict — not saved. {e}")
        return
    except (NovaAvatarError, ValueError, OSError) as e:
        st.session_state[_FLASH] = ("error", f"Not started: {e}")
        return
    job = work.start(by=by)
    st.session_state[_FLASH] = (
        "success",
        f"Swapping the background of `{m.video_id}` ({job.where}): background, avatar, compose "
        "and quality run again; the script and voice stay.",
    )


def background_editor(store: ArtifactStore, m: VideoManifest) -> None:
    """A "Swap the background" section: an uploaded image or a new prompt."""
    now = m.background_swap.describe() if m.background_swap else "the generated one"
    with st.expander("Swap the background", icon=":material/wallpaper:", expanded=False):
        with st.form(f"background_{m.video_id}", border=False):
            st.file_uploader(
                "Image",
                type=["png", "jpg", "jpeg", "webp"],
                key=_key(m, "bg_image"),
                help="Cropped to fill the frame; checked to be a readable image.",
            )
            st.text_input(
                "…or a prompt",
                key=_key(m, "bg_prompt"),
                max_chars=1000,
                placeholder="e.g. a harbour at dawn, soft light, no text",
            )
            st.form_submit_button(
                "Swap the background",
                icon=":material/wallpaper:",
                on_click=_submit_background,
                args=(store, m),
                disabled=jobs.running_for(m.video_id) is not None,
            )
        st.caption(f"Now: {now}. Only the background, avatar, compose and checks run again.")


def edit_sections(store: ArtifactStore, m: VideoManifest) -> None:
    """Every edit a reviewer can make before approving: the script, the trim, the background."""
    script_editor(store, m)
    if m.state in EDITABLE:
        trim_editor(store, m)
        if m.script is not None:
            background_editor(store, m)


def edit_diff(e: ReviewEvent) -> None:
    """A history entry's script diff, folded away."""
    if e.diff:
        with st.expander("What was changed"):
            st.code(e.diff, language="diff", wrap_lines=True)
