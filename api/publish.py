"""Publishing an approved video: its package in ``exports/<id>/`` and, when asked, YouTube."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api import schemas
from api.context import Ctx, authorized
from api.problems import COMMON_RESPONSES, Problem, ProblemError
from novaavatar import manifests
from novaavatar.domain import Publication, ReviewState
from novaavatar.service import publishing
from tasks.publish.youtube import YouTubeError

router = APIRouter(prefix="/api", dependencies=[Depends(authorized)], responses=COMMON_RESPONSES)
VideoId = Annotated[str, Path(pattern=schemas.VIDEO_ID, description="e.g. vid-1a2b3c4d5e6f")]


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channels: list[Literal["package", "youtube"]] = Field(
        default=["package"],
        min_length=1,
        max_length=2,
        description="package: exports/<id>/ (MP4, captions, thumbnail, metadata per platform); "
        "youtube: also upload it (needs YouTube credentials)",
    )
    publisher: str = Field(default="api", pattern=schemas.REVIEWER, description="who publishes")


class PublishOutcome(BaseModel):
    video_id: str
    state: ReviewState
    package: str = Field(description="store prefix of the publish package")
    youtube_url: str | None = None
    publications: dict[str, Publication]


RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "no such video"},
    409: {"model": Problem, "description": "not approved, or an upload of it is in progress"},
    502: {"model": Problem, "description": "YouTube refused or kept failing; rerun resumes"},
}


@router.post(
    "/videos/{video_id}/publish",
    response_model=PublishOutcome,
    responses=RESPONSES,
    summary="Publish an approved video (package, YouTube)",
)
async def publish_video(
    video_id: VideoId, ctx: Ctx, body: PublishRequest | None = None
) -> PublishOutcome:
    """Only approved (or already exported) videos; the answer comes when the upload is done.
    An interrupted upload is resumed by calling again; a finished one is never repeated."""
    req = body or PublishRequest()
    try:
        r = await asyncio.to_thread(
            publishing.publish, ctx.store, video_id, req.channels, req.publisher, ctx.settings
        )
    except YouTubeError as e:
        raise ProblemError(502, str(e), kind="upload-failed") from None
    m, _ = manifests.load(ctx.store, video_id)
    return PublishOutcome(
        video_id=video_id,
        state=m.state,
        package=r.package,
        youtube_url=r.youtube_url,
        publications=m.publications,
    )
