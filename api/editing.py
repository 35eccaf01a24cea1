"""Edit before approve: change a video's script; a new take is made and reviewed again."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Response, UploadFile

from api import schemas
from api.context import Ctx, authorized
from api.problems import COMMON_RESPONSES, Problem, ProblemError
from novaavatar.service import decisions, editing

router = APIRouter(prefix="/api", dependencies=[Depends(authorized)], responses=COMMON_RESPONSES)
VideoId = Annotated[str, Path(pattern=schemas.VIDEO_ID, description="e.g. vid-1a2b3c4d5e6f")]
EDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"model": Problem, "description": "reviewer not allowed"},
    404: {"model": Problem, "description": "no such video"},
    409: {"model": Problem, "description": "changed since expected_version, or approved already"},
    422: {"model": Problem, "description": "empty or malformed text, or nothing changed"},
}


@router.patch(
    "/videos/{video_id}/script",
    status_code=202,
    response_model=schemas.Job,
    responses=EDIT_RESPONSES,
    summary="Edit a video's script before approving it",
)
async def edit_script(
    video_id: VideoId, body: schemas.ScriptEdit, ctx: Ctx, response: Response
) -> schemas.Job:
    """Starts a new take speaking the edited script (a ``produce-video`` run: speech, avatar,
    compose and quality again; the background from the cache); follow it at
    ``/api/jobs/{id}``. Only a pending, rejected or failed video is edited; it goes back to
    pending, and its history keeps the diff against the generated script. A conversation's
    text is 'Host:'/'Guest:' lines, an explainer's '# Title' paragraphs."""
    changes = editing.ScriptChanges(
        text=body.text,
        title=body.title,
        keywords=tuple(body.keywords) if body.keywords is not None else None,
        call_to_action=body.call_to_action,
    )
    try:
        work = await asyncio.to_thread(
            editing.edit_script,
            ctx.store,
            video_id,
            changes,
            body.reviewer,
            body.expected_version,
            ctx.settings,
        )
    except decisions.UnknownReviewer as e:
        raise ProblemError(403, str(e), kind="unknown-reviewer") from None
    except editing.NotEditable as e:
        raise ProblemError(409, str(e), kind="invalid-transition") from None
    started = await asyncio.to_thread(ctx.jobs.start, "regenerate", work, by=body.reviewer)
    view = await ctx.jobs.view(started.id, ctx.store, detail=False)
    response.headers["Location"] = f"/api/jobs/{view.id}"
    return view


@router.post(
    "/videos/{video_id}/trim",
    status_code=202,
    response_model=schemas.Job,
    responses=EDIT_RESPONSES,
    summary="Trim a video's start and end before approving it",
)
async def trim(
    video_id: VideoId, body: schemas.TrimRequest, ctx: Ctx, response: Response
) -> schemas.Job:
    """Starts a ``trim-video`` run: the final video is re-encoded from ``start_s`` to
    ``end_s`` (seconds of the untrimmed video) without rendering it again, the captions move
    with the cut and the quality checks run on it; the video goes back to pending."""
    try:
        work = await asyncio.to_thread(
            editing.trim,
            ctx.store,
            video_id,
            body.start_s,
            body.end_s,
            body.reviewer,
            body.expected_version,
            ctx.settings,
        )
    except decisions.UnknownReviewer as e:
        raise ProblemError(403, str(e), kind="unknown-reviewer") from None
    except editing.NotEditable as e:
        raise ProblemError(409, str(e), kind="invalid-transition") from None
    started = await asyncio.to_thread(ctx.jobs.start, "trim", work, by=body.reviewer)
    view = await ctx.jobs.view(started.id, ctx.store, detail=False)
    response.headers["Location"] = f"/api/jobs/{view.id}"
    return view


@router.post(
    "/videos/{video_id}/background",
    status_code=202,
    response_model=schemas.Job,
    responses={
        **EDIT_RESPONSES,
        413: {"model": Problem, "description": "upload larger than MAX_UPLOAD_MB"},
    },
    summary="Swap a video's background before approving it",
)
async def swap_background(
    video_id: VideoId,
    ctx: Ctx,
    response: Response,
    image: Annotated[UploadFile | None, File(description="JPEG, PNG or WebP")] = None,
    prompt: Annotated[
        str | None, Form(max_length=1000, description="or: what the background shows")
    ] = None,
    reviewer: Annotated[str, Form(pattern=schemas.REVIEWER)] = "api",
    expected_version: Annotated[int | None, Form(ge=0)] = None,
) -> schemas.Job:
    """Starts a new take (a ``produce-video`` run) over an uploaded image (checked by its
    content) or a new prompt: background, avatar, compose and quality run again, the script
    and speech come from the cache; the video goes back to pending."""
    data = await image.read() if image is not None else None
    name = (image.filename or "background") if image is not None else "background"
    try:
        work = await asyncio.to_thread(
            editing.swap_background,
            ctx.store,
            video_id,
            reviewer,
            data,
            name,
            prompt,
            expected_version,
            ctx.settings,
        )
    except decisions.UnknownReviewer as e:
        raise ProblemError(403, str(e), kind="unknown-reviewer") from None
    except editing.NotEditable as e:
        raise ProblemError(409, str(e), kind="invalid-transition") from None
    started = await asyncio.to_thread(ctx.jobs.start, "regenerate", work, by=reviewer)
    view = await ctx.jobs.view(started.id, ctx.store, detail=False)
    response.headers["Location"] = f"/api/jobs/{view.id}"
    return view
