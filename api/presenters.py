"""Presenter profiles: list them, read one version, and save a new version (multipart)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Path, Response, UploadFile
from pydantic import BaseModel

from api import schemas
from api.context import Ctx, authorized
from api.problems import COMMON_RESPONSES, Problem
from api.security import Caller
from novaavatar.domain import CONSENT_STATEMENT
from novaavatar.presenters import Presenter
from novaavatar.service import presenters

router = APIRouter(prefix="/api", dependencies=[Depends(authorized)], responses=COMMON_RESPONSES)
PresenterRef = Annotated[
    str,
    Path(pattern=r"^[a-z][a-z0-9_\-]{0,39}(@[1-9][0-9]{0,5})?$", description="name[@version]"),
]


class PresenterList(BaseModel):
    presenters: list[Presenter]


@router.get("/presenters", response_model=PresenterList, summary="List presenter profiles")
async def list_presenters(ctx: Ctx) -> PresenterList:
    """Each presenter's newest version: portrait key, likeness consent (who, when), voice and
    default layout. A run picks one with ``presenter`` (name or name@version)."""
    return PresenterList(presenters=await asyncio.to_thread(presenters.listing, ctx.store))


@router.get(
    "/presenters/{ref}",
    response_model=Presenter,
    responses={422: {"model": Problem, "description": "no such presenter"}},
    summary="One presenter version (newest when no @version is given)",
)
async def get_presenter(ref: PresenterRef, ctx: Ctx) -> Presenter:
    return await asyncio.to_thread(presenters.show, ctx.store, ref)


async def _upload(file: UploadFile | None) -> presenters.Upload | None:
    if file is None:
        return None
    return presenters.Upload(await file.read(), file.filename or "upload")


@router.post(
    "/presenters",
    status_code=201,
    response_model=Presenter,
    responses={
        413: {"model": Problem, "description": "upload larger than MAX_UPLOAD_MB"},
        422: {"model": Problem, "description": "bad name, voice, image or clip; no consent"},
    },
    summary="Save a new version of a presenter profile",
)
async def save_presenter(
    ctx: Ctx,
    response: Response,
    name: Annotated[str, Form(max_length=40, description="lowercase, e.g. anna")],
    caller: Annotated[Caller, Depends(authorized)],
    portrait: Annotated[
        UploadFile | None,
        File(description="JPEG, PNG or WebP; a later version may leave it out to keep the last"),
    ] = None,
    i_have_consent: Annotated[
        bool, Form(description="with a portrait, true means: " + CONSENT_STATEMENT)
    ] = False,
    consent_by: Annotated[
        str | None,
        Form(min_length=1, max_length=120, description="who attests the consent (and saves)"),
    ] = None,
    voice_kind: Annotated[
        Literal["espeak", "openai", "dia"] | None,
        Form(description="espeak, openai or dia (clone a clip); default: the last version's"),
    ] = None,
    voice: Annotated[
        str | None, Form(max_length=40, description="eSpeak voice (en-gb) or OpenAI voice (nova)")
    ] = None,
    fallback_voice: Annotated[
        str | None,
        Form(pattern=schemas.VOICE, max_length=40, description="openai/dia: the eSpeak voice"),
    ] = None,
    clip: Annotated[
        UploadFile | None, File(description="dia: 5–15 s of the voice to clone")
    ] = None,
    clip_text: Annotated[str, Form(max_length=600, description="dia: what the clip says")] = "",
    layout: Annotated[schemas.Layout | None, Form(description="default layout")] = None,
    description: Annotated[str | None, Form(max_length=300)] = None,
) -> Presenter:
    """The first version needs a portrait with ``i_have_consent=true`` and ``consent_by``;
    the consent is recorded with who and when, and carried into every video's manifest.
    Nothing is stored when any part is refused."""
    from novaavatar.consent import ConsentMissing

    if portrait is not None and not (i_have_consent and (consent_by or "").strip()):
        raise ConsentMissing(
            f"portrait {portrait.filename!r}: send i_have_consent=true and consent_by (who "
            "attests the right to use this likeness)"
        )
    saved = await asyncio.to_thread(
        presenters.save_version,
        ctx.store,
        name,
        by=consent_by or f"api {caller.token}",
        via="api",
        portrait=await _upload(portrait),
        i_have_consent=i_have_consent,
        voice_kind=voice_kind,
        voice=voice,
        fallback_voice=fallback_voice,
        clip=await _upload(clip),
        clip_text=clip_text,
        layout=layout,
        description=description,
    )
    response.headers["Location"] = f"/api/presenters/{saved.ref}"
    return saved
