"""Review queue: watch, read, check quality, then approve, reject with a note, or regenerate.

Keys (shown on the buttons): A approve · N jump to the note, Enter rejects with it ·
J next · K previous · G regenerate the chosen stage · Esc leaves the note field.

Safe keys and links: the URL (``?view=…&video=…``) always names the view and the video
shown; a decision or a move leaves every input (so the next J is a key, not a letter in a
note); a shortcut acts only on the video shown; choosing a view opens its first video.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pandas as pd
import streamlit as st

from novaavatar import manifests
from novaavatar.domain import SAMPLE_BADGE, VARIANT_LOST, ReviewState, VideoManifest
from novaavatar.errors import ConflictError, NovaAvatarError
from novaavatar.service import decisions, jobs, production
from novaavatar.service.lookup import (
    QUEUE_FILTERS,
    StoreUnavailable,
    VideoNotFound,
    in_pipeline_order,
    load_video,
)
from novaavatar.store import ArtifactStore
from review_app import access, editing, ui

# Stage names a reviewer sees, mapped to the pipeline's stage ids.
REGENERATE = {"script": "script", "background": "background", "voice": "speech", "avatar": "avatar"}
NOTE_KEY = "review_note"
# set by a callback that moves on; the next run empties the note before drawing it. A callback
# must not empty it itself: two keys pressed at once (Enter, then J) run both callbacks in one
# run, and the rejection would find its note gone
CLEAR_NOTE_KEY = "review_clear_note"

# Approving is the happy path: green, not the theme's alarm-red primary colour.
_STYLE = """
<style>
.st-key-approve button { background-color: #15803d; border-color: #15803d; color: white; }
.st-key-approve button:hover { background-color: #166534; border-color: #166534; color: white; }
[class*="st-key-choose_"] button:enabled {
  background-color: #15803d; border-color: #15803d; color: white;
}
[class*="st-key-choose_"] button:enabled:hover { background-color: #166534; border-color: #166534; }
</style>
"""

# "N" focuses the note (Streamlit shortcuts cannot focus a text field); Esc leaves it so the
# single-key shortcuts work again. Installed once per browser tab.
_NOTE_KEYS_JS = """
<script>
(() => {
  const doc = window.parent && window.parent.document ? window.parent.document : document;
  if (doc.__novaNoteKeys) return;
  doc.__novaNoteKeys = true;
  const note = () => doc.querySelector('input[aria-label^="Note — why reject"]');
  doc.addEventListener('keydown', (e) => {
    const t = e.target;
    const typing = t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName));
    if (e.key === 'Escape' && typing) { t.blur(); return; }
    if (typing || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === 'n' || e.key === 'N') {
      const el = note();
      if (el) { e.preventDefault(); el.focus(); }
    }
  }, true);
  // Enter in the note rejects: once the key is up (the form has taken the note), leave the
  // field, so a key pressed while the page redraws is not a letter in the next video's note
  doc.addEventListener('keyup', (e) => {
    const t = e.target;
    if (e.key === 'Enter' && t && t === note()) setTimeout(() => t.blur(), 0);
  }, true);
})();
</script>
"""  # noqa: E501


def flash(kind: str, text: str) -> None:
    st.session_state["review_flash"] = (kind, text)


def show_flash() -> None:
    kind, text = st.session_state.pop("review_flash", (None, ""))
    if kind == "success":
        st.success(text, icon=":material/check_circle:")
    elif kind == "conflict":
        st.error(f"**Conflict — not saved.** {text}", icon=":material/sync_problem:")
    elif kind == "error":
        st.error(text, icon=":material/error:")


SHOWN_KEY = "review_shown"  # the video id the last run drew: the only one keys act on
VIEW_KEY = "review_view"


def go_to(video_id: str | None) -> None:
    """Show ``video_id`` next (None: the view's first); the URL names it."""
    if video_id:
        st.query_params["video"] = video_id
    else:
        st.query_params.pop("video", None)
    st.session_state[CLEAR_NOTE_KEY] = True


def switch_view(ids_by_view: dict[str, list[str]]) -> None:
    """A view chosen: open its first video, and name the view in the URL."""
    view = st.session_state.get(VIEW_KEY) or "pending"
    st.query_params["view"] = view
    ids = ids_by_view.get(view, [])
    go_to(ids[0] if ids else None)


def _is_shown(video_id: str) -> bool:
    """Whether ``video_id`` is the video on the reviewer's screen (a key pressed on a page
    that has moved on must not act on the video that was there before)."""
    shown = st.session_state.get(SHOWN_KEY)
    if shown is not None and shown != video_id:
        flash(
            "error",
            f"Not saved: `{video_id}` is no longer the video shown; "
            f"look at `{shown}` and decide again.",
        )
        return False
    return True


def decide(
    store: ArtifactStore, video_id: str, seen_version: int, state: ReviewState, then: str | None
) -> None:
    """Record a decision on the version the reviewer saw; someone else's change is a conflict."""
    if not _is_shown(video_id):
        return
    by = access.reviewer()
    note = str(st.session_state.get(NOTE_KEY, "")).strip() if state is ReviewState.REJECTED else ""
    if by is None:
        flash("error", "Enter your name in the sidebar first: it is recorded with the decision.")
        return
    if state is ReviewState.REJECTED and not note:
        flash("error", "A rejection needs a note: press N, type why, then Enter.")
        return
    try:
        decisions.decide(store, video_id, state, by=by, note=note, expected_version=seen_version)
    except ConflictError as e:
        flash("conflict", str(e))
        return
    except (NovaAvatarError, ValueError, OSError) as e:
        flash("error", f"Not saved: {e}")
        return
    flash("success", f"{state.value.capitalize()} `{video_id}` as {by}.")
    go_to(then)


def choose_take(
    store: ArtifactStore, shown_id: str, take_id: str, seen_version: int, then: str | None
) -> None:
    """Approve one take of the A/B group shown; the service rejects the group's others."""
    if not _is_shown(shown_id):
        return
    by = access.reviewer()
    if by is None:
        flash("error", "Enter your name in the sidebar first: it is recorded with the decision.")
        return
    try:
        chosen = decisions.decide(
            store, take_id, ReviewState.APPROVED, by=by, expected_version=seen_version
        )
    except ConflictError as e:
        flash("conflict", str(e))
        return
    except (NovaAvatarError, ValueError, OSError) as e:
        flash("error", f"Not saved: {e}")
        return
    label = chosen.variant.label if chosen.variant else "?"
    flash(
        "success",
        f"Chose take {label} (`{take_id}`) as {by}; the other takes are rejected: "
        f"“{VARIANT_LOST}”.",
    )
    go_to(then)


_CHOSEN = (ReviewState.APPROVED, ReviewState.EXPORTED)


def variant_group(store: ArtifactStore, m: VideoManifest) -> list[VideoManifest]:
    """The takes of ``m``'s A/B group (none when it is not a take of one)."""
    if m.variant is None:
        return []
    takes = manifests.variant_group(store, m.variant.group)
    return takes if len(takes) > 1 else []


def variants_section(
    store: ArtifactStore, current: VideoManifest, takes: list[VideoManifest], then: str | None
) -> None:
    """The takes of an A/B group side by side, each with its hook, style, video and script;
    the reviewer chooses one."""
    won = [t.variant.label for t in takes if t.variant and t.state in _CHOSEN]
    what = f"take {won[0]} chosen" if won else "choose one"
    st.subheader(f"A/B takes — {len(takes)} versions of this story, {what}", anchor=False)
    if access.reviewer() is None:
        st.warning("Enter your name in the sidebar to choose.", icon=":material/badge:")
    for col, take in zip(st.columns(len(takes), gap="medium"), takes, strict=True):
        v = take.variant
        assert v is not None
        with col, st.container(border=True, key=f"take_{take.video_id}"):
            shown = " · shown below" if take.video_id == current.video_id else ""
            st.markdown(
                f"**Take {v.label}** · hook *{v.hook}* · {v.style.replace('_', ' ')}{shown}  \n"
                f"{ui.badge(take.state)} `{take.video_id}`"
            )
            player(store, take)
            if take.quality is not None:
                failed = take.quality.failed
                st.caption(
                    f"quality: {len(failed)} check(s) failed" if failed else "quality: all passed"
                )
            if take.script is not None:
                st.markdown(take.script.text)
            choosable = ReviewState.APPROVED in _allowed(take) and take.state is not (
                ReviewState.APPROVED
            )
            st.button(
                f"Choose take {v.label}",
                icon=":material/check:",
                type="primary",
                width="stretch",
                key=f"choose_{take.video_id}",
                disabled=not choosable,
                on_click=choose_take,
                args=(store, current.video_id, take.video_id, take.version, then),
            )
            st.button(
                "Details",
                key=f"details_{take.video_id}",
                width="stretch",
                disabled=take.video_id == current.video_id,
                on_click=go_to,
                args=(take.video_id,),
            )


def regenerate(store: ArtifactStore, m: VideoManifest) -> None:
    if not _is_shown(m.video_id):
        return
    by = access.reviewer()
    label = st.session_state.get("regen_stage", "background")
    if by is None:
        flash(
            "error", "Enter your name in the sidebar first: it is recorded with the regeneration."
        )
        return
    try:
        work = production.regenerate(store, m.video_id, [REGENERATE[label]], by)
    except (NovaAvatarError, ValueError, OSError) as e:
        flash("error", f"Not started: {e}")
        return
    job = work.start(by=ui.who())
    flash("success", f"Regenerating the {label} of `{m.video_id}` ({job.where}).")


def quality_section(m: VideoManifest) -> None:
    st.subheader("Quality report")
    if m.quality is None:
        st.warning("No quality report: the video did not reach the quality checks.")
        return
    failed = m.quality.failed
    if failed:
        names = ", ".join(c.name for c in failed)
        st.error(f"**{len(failed)} of {len(m.quality.checks)} checks failed:** {names}")
    else:
        st.success(f"All {len(m.quality.checks)} checks passed.")
    # Plain words, not emoji: the table is drawn on a canvas with whatever fonts the machine has.
    rows = pd.DataFrame(
        [
            {
                "result": "passed" if c.passed else "FAILED",
                "check": c.name,
                "value": str(c.value),
                "detail": c.detail,
            }
            for c in sorted(m.quality.checks, key=lambda c: c.passed)
        ]
    )

    def highlight(row: pd.Series) -> list[str]:
        bad = row["result"] == "FAILED"
        return ["background-color: rgba(255, 75, 75, 0.18)" if bad else ""] * len(row)

    st.dataframe(
        rows.style.apply(highlight, axis=1),
        hide_index=True,
        width="stretch",
        column_config={"detail": st.column_config.TextColumn(width="large")},  # not cut off
    )


def stages_section(m: VideoManifest) -> None:
    st.subheader("Stages")
    if not m.stages:
        st.caption("No stage records.")
        return
    rows = [
        {
            "stage": name,
            "provider": r.provider,
            "seconds": round(r.seconds, 2),
            "cost $": round(r.cost_usd, 4),
            "take": m.takes.get(name, 0) + 1,
            "detail": r.detail,
        }
        for name, r in ((n, m.stages[n]) for n in in_pipeline_order(list(m.stages)))
    ]
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={"detail": st.column_config.TextColumn(width="large")},
    )
    total = sum(r.seconds for r in m.stages.values())
    link = jobs.flow_run_link(m.flow_run_id)
    run = f" · [flow run in Prefect]({link})" if link else ""
    st.caption(f"{total:.1f} s in all{run}")


def history_section(m: VideoManifest) -> None:
    st.subheader("History")
    if not m.history:
        st.caption("No decisions yet.")
    for e in reversed(m.history):
        note = f" — “{e.note}”" if e.note else ""
        st.markdown(f"{ui.badge(e.state)} {ui.when(e.at)} by **{e.by}**{note}")
        editing.edit_diff(e)


def player(store: ArtifactStore, m: VideoManifest) -> None:
    if m.final is None:
        st.warning(
            f"No video: {m.error or 'the render did not finish'}.", icon=":material/videocam_off:"
        )
        return
    try:
        # S3/MinIO: the browser streams from a presigned URL; a local store serves the file
        path: str | Path = (
            store.presigned_url(m.final.key)
            if store.uri.startswith("s3://")
            else store.materialize(m.final.key)
        )
    except (NovaAvatarError, OSError) as e:
        st.error(f"The video file is missing from the store: {e}")
        return
    # Captions are burned into the picture; a subtitle track on top would show them twice.
    # A portrait video as wide as its column would push everything below the fold.
    width: int | Literal["stretch"] = {"9:16": 320, "1:1": 420}.get(m.options.aspect, "stretch")
    st.video(path, width=width)
    f = m.final
    st.caption(
        f"{f.duration_s:.1f} s · {f.width}×{f.height} · {f.fps:g} fps · {f.size_bytes / 1e6:.1f} MB"
    )


def script_section(m: VideoManifest) -> None:
    item = m.item
    source = f"[{item.source}]({item.url})" if item.url else item.source
    published = f" · published {ui.when(item.published)}" if item.published else ""
    st.markdown(f"From {source}{published} · relevance {item.score:.2f}")
    if m.script is None:
        st.warning("No script.")
        return
    with st.container(border=True):
        st.markdown(m.script.text)
    o = m.options
    meta = (
        f"{m.script.word_count} words · {o.style.replace('_', ' ')} · {o.aspect} · voice {o.voice}"
    )
    if o.presenter:
        meta += f" · presenter {o.presenter}"
    st.caption(meta)
    links = list(dict.fromkeys([*m.script.sources, *([item.url] if item.url else [])]))
    if links:
        st.markdown("**Sources:** " + " · ".join(f"[{_short(u)}]({u})" for u in links))


def _short(url: str) -> str:
    host = url.split("//", 1)[-1]
    return host if len(host) <= 60 else host[:57] + "…"


def decision_controls(
    store: ArtifactStore, m: VideoManifest, prev_id: str | None, next_id: str | None
) -> None:
    decidable = m.state in (ReviewState.PENDING, ReviewState.REJECTED, ReviewState.APPROVED)
    if access.reviewer() is None:
        st.warning("Enter your name in the sidebar to decide.", icon=":material/badge:")
    after = next_id or prev_id
    approve_col, prev_col, next_col = st.columns([2, 1, 1])
    approve_col.button(
        "Approve",
        icon=":material/check:",
        type="primary",
        width="stretch",
        shortcut="A",
        key="approve",
        disabled=not decidable or ReviewState.APPROVED not in _allowed(m),
        on_click=decide,
        args=(store, m.video_id, m.version, ReviewState.APPROVED, after),
    )
    prev_col.button(
        "Previous",
        icon=":material/arrow_back:",
        shortcut="K",
        width="stretch",
        disabled=prev_id is None,
        on_click=go_to,
        args=(prev_id,),
    )
    next_col.button(
        "Next",
        icon=":material/arrow_forward:",
        shortcut="J",
        width="stretch",
        disabled=next_id is None,
        on_click=go_to,
        args=(next_id,),
    )
    if decidable and ReviewState.REJECTED in _allowed(m):
        # Only the rejection lives in the form: Enter in the note submits the form's first
        # button in page order, and that must never be an approval.
        with st.form("reject", border=False):
            note_col, reject_col = st.columns([4, 1], vertical_alignment="bottom")
            note_col.text_input(
                "Note — why reject? (N to type, Enter rejects)",
                key=NOTE_KEY,
                placeholder="e.g. wrong name in the second sentence",
            )
            reject_col.form_submit_button(
                "Reject",
                icon=":material/close:",
                width="stretch",
                on_click=decide,
                args=(store, m.video_id, m.version, ReviewState.REJECTED, after),
            )

    running = jobs.running_for(m.video_id)
    can_regenerate = m.state in (ReviewState.PENDING, ReviewState.REJECTED, ReviewState.FAILED)
    stage_col, button_col = st.columns([3, 2], vertical_alignment="bottom")
    stage_col.selectbox("Regenerate one stage", list(REGENERATE), index=1, key="regen_stage")
    button_col.button(
        "Regenerate",
        icon=":material/refresh:",
        shortcut="G",
        width="stretch",
        disabled=running is not None or not can_regenerate,
        on_click=regenerate,
        args=(store, m),
    )
    if running is not None:
        st.info(
            f"{running.label}: running… the video returns to the queue when done.",
            icon=":material/sync:",
        )
    elif not can_regenerate:
        st.caption(f"A {m.state.value} video is not regenerated; reject it first.")
    st.caption(
        "Keys: **A** approve · **N** note, **Enter** reject · **J** next · "
        "**K** previous · **G** regenerate · **Esc** leave the note"
    )


def _allowed(m: VideoManifest) -> set[ReviewState]:
    from novaavatar.domain import REVIEW_TRANSITIONS

    return REVIEW_TRANSITIONS[m.state]


def main() -> None:
    if st.session_state.pop(CLEAR_NOTE_KEY, False):  # moved on: the note is the next video's
        st.session_state[NOTE_KEY] = ""
    st.title("Review queue")
    _settings, store = ui.store_or_stop()
    queue = ui.queue_or_stop(store)
    counts = queue.counts()
    show_flash()

    if VIEW_KEY not in st.session_state:  # a shared link names its view
        asked = st.query_params.get("view")
        st.session_state[VIEW_KEY] = asked if asked in QUEUE_FILTERS else "pending"
    ids_by_view = {v: [m.video_id for m in queue.select(v)] for v in QUEUE_FILTERS}
    view = (
        st.segmented_control(
            "Show",
            QUEUE_FILTERS,
            required=True,
            key=VIEW_KEY,
            format_func=lambda v: f"{v} · {counts.get(v, len(queue.videos))}",
            label_visibility="collapsed",
            on_change=switch_view,
            args=(ids_by_view,),
        )
        or "pending"
    )
    st.query_params["view"] = view
    videos = queue.select(view)
    ids = ids_by_view[view]

    raw = st.query_params.get("video")
    try:
        current = load_video(store, raw) if raw else (videos[0] if videos else None)
    except VideoNotFound as e:
        st.error(
            f"**Not found.** {e.args[0]}. Pick a video from the queue instead.",
            icon=":material/search_off:",
        )
        st.button(
            "Open the first video in the queue", on_click=go_to, args=(ids[0] if ids else None,)
        )
        return
    except StoreUnavailable as e:
        st.error(f"**Store unavailable.** {e}", icon=":material/cloud_off:")
        return
    if current is None:
        st.info(
            f"No {view} videos. Produce some from **Sources**, or pick another view.",
            icon=":material/inbox:",
        )
        return
    if raw != current.video_id:
        st.query_params["video"] = current.video_id
    st.session_state[SHOWN_KEY] = current.video_id

    takes = variant_group(store, current)
    if takes:  # the group is seen together: moving on skips its other takes
        others = {t.video_id for t in takes} - {current.video_id}
        ids = [i for i in ids if i not in others]
    if current.video_id in ids:
        i = ids.index(current.video_id)
        position = f"{i + 1} of {len(ids)} {view}"
        prev_id, next_id = (
            (ids[i - 1] if i > 0 else None),
            (ids[i + 1] if i + 1 < len(ids) else None),
        )
    else:
        position = f"not in the {view} view"
        prev_id, next_id = None, (ids[0] if ids else None)

    if takes:
        variants_section(store, current, takes, next_id or prev_id)
        st.divider()
    wide = current.options.aspect == "16:9"
    video_col, info_col = st.columns([3, 2] if wide else [2, 3], gap="large")
    with video_col:
        if takes and current.variant is not None:
            st.caption(f"Take {current.variant.label}: its video is shown above.")
        else:
            player(store, current)
        quality_section(current)
    with info_col:
        st.subheader(ui.title_of(current), anchor=False)
        st.markdown(
            f"{ui.badge(current.state)} {position} · `{current.video_id}` · "
            f"made {ui.when(current.created_at)}"
        )
        if current.item.sample:
            st.warning(
                f"**{SAMPLE_BADGE}.** This story comes from the bundled sample feed: it is "
                "fiction for trying NovaAvatar out, and it can never be published to a channel.",
                icon=":material/science:",
            )
        if current.error:
            st.error(f"Failed: {current.error}")
        for stage, record in current.stages.items():  # e.g. OmniAvatar fell back to lite
            for warning in record.warnings:
                st.warning(f"**{stage.capitalize()}:** {warning}", icon=":material/warning:")
        for c in current.quality.failed if current.quality else []:
            st.error(
                f"**Quality check failed — {c.name}:** {c.value} ({c.detail})",
                icon=":material/warning:",
            )
        script_section(current)
        editing.edit_sections(store, current)
        decision_controls(store, current, prev_id, next_id)

    st.divider()
    stages_col, history_col = st.columns(2, gap="large")
    with stages_col:
        stages_section(current)
    with history_col:
        history_section(current)
    st.html(_STYLE)
    st.html(_NOTE_KEYS_JS, unsafe_allow_javascript=True)


main()
