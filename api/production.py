"""Starting work: scrape sources, generate videos (from items or uploads), follow jobs."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Query, Response, UploadFile

from api import schemas
from api.context import ApiContext, Ctx, Who, authorized, who
from api.jobs import Started
from api.problems import COMMON_RESPONSES, Problem, ProblemError
from novaavatar.domain import CONSENT_STATEMENT, Aspect, ContentItem
from novaavatar.errors import InputError
from novaavatar.items import load_item
from novaavatar.service import lookup, production
from novaavatar.store import ArtifactStore

router = APIRouter(prefix="/api", dependencies=[Depends(authorized)], responses=COMMON_RESPONSES)
JobId = Annotated[str, Path(pattern=schemas.JOB_ID, description="from POST /api/generate")]


async def _job_view(ctx: ApiContext, started: Started, response: Response) -> schemas.Job:
    view = await ctx.jobs.view(started.id, ctx.store, detail=False)
    response.headers["Location"] = f"/api/jobs/{view.id}"
    return view


def _scraped_items(store: ArtifactStore) -> list[ContentItem]:
    return lookup.load_items(store).items


@router.post(
    "/scrape",
    response_model=schemas.ScrapeResult,
    responses={202: {"model": schemas.ScrapeResult, "description": "still running"}},
    summary="Scrape sources and return the ranked items",
)
async def scrape(
    body: schemas.ScrapeRequest, ctx: Ctx, response: Response, caller: Who
) -> schemas.ScrapeResult:
    """Runs the ``scrape-content`` deployment (or the flow, without a server) and waits up to
    ``wait_s`` for the items; a scrape still running answers 202 with its job."""
    sources = [str(u) for u in body.sources]
    work = production.scrape(sources, body.keywords, body.limit, sample=body.sample)
    started = await asyncio.to_thread(ctx.jobs.start, "scrape", work, by=who(caller))
    deadline = time.monotonic() + body.wait_s
    view = await _job_view(ctx, started, response)
    while view.state in ("scheduled", "running") and time.monotonic() < deadline:
        await asyncio.sleep(0.25)
        view = await _job_view(ctx, started, response)
    if view.state != "completed":
        response.status_code = 202 if view.state in ("scheduled", "running") else 200
        return schemas.ScrapeResult(job=view, items=[])
    items = await asyncio.to_thread(_scraped_items, ctx.store)
    return schemas.ScrapeResult(job=view, items=items)


def _item_for(store: ArtifactStore, body: schemas.GenerateRequest) -> ContentItem:
    if body.item_id is not None:
        return load_item(store, body.item_id)
    assert body.title is not None  # the request model checked that one of them is given
    item = ContentItem.make(
        title=body.title.strip(),
        url=str(body.url) if body.url else "",
        source="api",
        summary=body.description,
    )
    store.put_bytes(f"items/{item.id}.json", item.model_dump_json(indent=2).encode())
    return item


@router.post(
    "/generate",
    status_code=202,
    response_model=schemas.Job,
    summary="Produce a video from a scraped item or new content",
)
async def generate(
    body: schemas.GenerateRequest, ctx: Ctx, response: Response, caller: Who
) -> schemas.Job:
    """Starts a ``produce-video`` flow run; follow it at ``/api/jobs/{id}``. The same item
    with the same options is the same video: asking again while it runs returns that job.
    Options left out come from the template, then the settings (DEFAULT_STYLE...)."""
    options = body.options()
    item = await asyncio.to_thread(_item_for, ctx.store, body)
    work = await asyncio.to_thread(production.produce_one, ctx.store, item, options)
    assert work.video_id is not None
    if (same := await ctx.jobs.active_for(work.video_id, ctx.store)) is not None:
        response.headers["Location"] = f"/api/jobs/{same.id}"
        return same  # this video is being made already: one run, not two
    started = await asyncio.to_thread(
        ctx.jobs.start, "generate", work, item_id=item.id, by=who(caller)
    )
    return await _job_view(ctx, started, response)


async def _read_upload(upload: UploadFile | None) -> tuple[bytes, str] | None:
    if upload is None:
        return None
    return await upload.read(), upload.filename or "upload"


@router.post(
    "/generate/manual",
    status_code=202,
    response_model=schemas.Job,
    responses={413: {"model": Problem, "description": "upload larger than MAX_UPLOAD_MB"}},
    summary="Produce a video from an uploaded portrait with uploaded audio or text",
)
async def generate_manual(
    ctx: Ctx,
    response: Response,
    caller: Who,
    title: Annotated[str, Form(min_length=1, max_length=500)],
    portrait: Annotated[UploadFile | None, File(description="JPEG, PNG or WebP")] = None,
    audio: Annotated[UploadFile | None, File(description="speech, any common format")] = None,
    text: Annotated[str | None, Form(max_length=5000, description="or: text to speak")] = None,
    prompt: Annotated[str, Form(max_length=1000, description="background description")] = "",
    aspect: Annotated[Aspect | None, Form(description="default: DEFAULT_ASPECT")] = None,
    voice: Annotated[str | None, Form(pattern=schemas.VOICE, max_length=40)] = None,
    layout: Annotated[schemas.Layout | None, Form()] = None,
    template: Annotated[
        str | None,
        Form(pattern=schemas.TEMPLATE, max_length=48, description="brand template or none"),
    ] = None,
    language: Annotated[
        str | None, Form(max_length=10, description="the text's language: en, es, ar, zh...")
    ] = None,
    i_have_consent: Annotated[
        bool,
        Form(description="with a portrait, true means: " + CONSENT_STATEMENT),
    ] = False,
    presenter: Annotated[
        str | None,
        Form(pattern=schemas.PRESENTER, max_length=48, description="presenter profile or none"),
    ] = None,
    consent_by: Annotated[
        str | None,
        Form(min_length=1, max_length=120, description="with a portrait: who attests the consent"),
    ] = None,
) -> schemas.Job:
    """Uploads are checked by their content (a readable image; decodable, non-empty audio
    under ten minutes) and by size (``MAX_UPLOAD_MB``), then the ``manual-create`` flow runs.
    A portrait needs ``i_have_consent=true`` and ``consent_by``: the likeness consent is
    recorded with who and when, and carried into the manifest and the exports."""
    from novaavatar import consent
    from novaavatar.uploads import store_audio, store_portrait

    options = production.options_from(
        dict(
            aspect=aspect,
            voice=voice,
            layout=layout,
            template=template,
            language=language,
            presenter=presenter,
        )
    )
    audio_upload = await _read_upload(audio)
    portrait_upload = await _read_upload(portrait)
    store = ctx.store
    # check everything but the uploads' content before storing anything
    await asyncio.to_thread(
        production.check_manual, store, title, options, audio_upload is not None, text
    )
    if portrait_upload is not None and not (i_have_consent and (consent_by or "").strip()):
        raise InputError(
            f"portrait {portrait_upload[1]!r}: send i_have_consent=true and consent_by (who "
            "attests the right to use this likeness)"
        )
    if portrait_upload:
        key = await asyncio.to_thread(store_portrait, store, *portrait_upload)
        await asyncio.to_thread(consent.attest, store, key, str(consent_by), "api")
        options = production.options_from(options.chosen() | {"portrait_key": key})
    audio_key = await asyncio.to_thread(store_audio, store, *audio_upload) if audio_upload else None
    work = production.manual(store, title, options, audio_key, text, prompt)
    started = await asyncio.to_thread(ctx.jobs.start, "manual", work, by=who(caller))
    return await _job_view(ctx, started, response)


@router.get("/jobs", response_model=schemas.JobPage, summary="List jobs, newest first")
async def list_jobs(
    ctx: Ctx,
    caller: Who,
    mine: Annotated[bool, Query(description="only jobs this token started")] = False,
    by: Annotated[
        str | None, Query(max_length=80, description="only jobs this person started")
    ] = None,
    state: schemas.JobState | None = None,
    kind: schemas.JobKind | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> schemas.JobPage:
    """Jobs this API process started and, with a Prefect server, the NovaAvatar flow runs
    it knows (scrape, produce, manual creation, trim, export); ``mine``: those this token
    started, ``by``: those someone started (a reviewer on the page, a CLI user)."""
    who_started = who(caller) if mine else by
    jobs, more = await ctx.jobs.page(ctx.store, state, kind, limit, offset, who_started)
    return schemas.JobPage(
        jobs=jobs, limit=limit, offset=offset, next_offset=offset + limit if more else None
    )


@router.get(
    "/jobs/{job_id}",
    response_model=schemas.Job,
    responses={404: {"model": Problem, "description": "no such job"}},
    summary="A job's state and per-stage progress",
)
async def get_job(job_id: JobId, ctx: Ctx) -> schemas.Job:
    """State from the Prefect flow run; each stage's state from its task run, and its
    provider and seconds from the video's stage records."""
    if job_id.startswith("local-") and not job_id.removeprefix("local-").isdigit():
        raise ProblemError(404, f"no job {job_id!r}", kind="not-found")
    return await ctx.jobs.view(job_id, ctx.store)
