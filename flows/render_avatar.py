"""The avatar stage as its own flow, deployed on the ``gpu`` work pool.

Produce flows call :func:`render_avatar_step`: when the avatar backend needs a GPU and the
``render-avatar/default`` deployment exists, the stage runs as a flow run on a GPU worker
and its result comes back through the flow's persisted result; otherwise the stage task
runs in-process, exactly as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from novaavatar.domain import (
    AvatarVideo,
    GeneratedAudio,
    GeneratedImage,
    ProduceOptions,
    RenderConfig,
    VideoScript,
)
from novaavatar.settings import Settings, get_settings
from novaavatar.templates import Brand
from tasks.stages import first_provider, provider_tag, render_avatar

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

GPU_DEPLOYMENT = "render-avatar/default"
GPU_POOL = "gpu"
# Avatar backends that only run well on a GPU worker; "lite" runs anywhere on a CPU.
GPU_BACKENDS = frozenset({"omniavatar"})


def avatar_backend(settings: Settings | None = None) -> str:
    """``AVATAR_BACKEND``: lite (CPU, in-process) or omniavatar (the gpu work pool)."""
    return (settings or get_settings()).avatar_backend


def gpu_deployment_id() -> UUID | None:
    """The id of the ``render-avatar/default`` deployment, or None where none is deployed."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(GPU_DEPLOYMENT).id
        except ObjectNotFound:
            return None


def _stage_options(settings: Settings) -> dict[str, Any]:
    from tasks.pipeline import with_results

    return with_results(settings)


@flow(
    name="render-avatar",
    flow_run_name="avatar {video_id}",
    log_prints=True,
    persist_result=True,  # the caller on the cpu pool reads the AvatarVideo back
)
def render_avatar_flow(
    image: GeneratedImage,
    audio: GeneratedAudio,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int = 0,
    video_script: VideoScript | None = None,
    brand: Brand | None = None,
) -> AvatarVideo:
    """Animate the presenter over the background on this worker; returns the AvatarVideo."""
    from novaavatar import consent
    from novaavatar.store import store_from_uri

    # started from the Prefect UI too: a portrait still needs its likeness consent
    consent.require(store_from_uri(cfg.store_uri), options)
    settings = get_settings()
    # the stage task reports its own progress artifact while it renders
    video = _tagged_render(options, settings)(
        image, audio, options, video_id, cfg, take, video_script, brand
    )
    print(f"avatar {video_id}: {video.key} ({video.provider}, {video.duration_s:.1f} s)")
    return video


def render_avatar_step(
    image: GeneratedImage,
    audio: GeneratedAudio,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int = 0,
    video_script: VideoScript | None = None,
    brand: Brand | None = None,
) -> AvatarVideo:
    """Render the avatar on the ``gpu`` pool when the backend needs a GPU and the deployment
    exists; in this process otherwise."""
    settings = get_settings()
    if avatar_backend(settings) in GPU_BACKENDS and gpu_deployment_id() is not None:
        return _render_on_gpu_pool(
            image, audio, options, video_id, cfg, take, video_script, settings, brand
        )
    return _tagged_render(options, settings)(
        image, audio, options, video_id, cfg, take, video_script, brand
    )


def _render_on_gpu_pool(
    image: GeneratedImage,
    audio: GeneratedAudio,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int,
    video_script: VideoScript | None,
    settings: Settings,
    brand: Brand | None = None,
) -> AvatarVideo:
    from prefect.deployments import run_deployment

    logger = get_run_logger()
    params = dict(
        image=image.model_dump(mode="json"),
        audio=audio.model_dump(mode="json"),
        options=options.model_dump(mode="json"),
        video_id=video_id,
        cfg=cfg.model_dump(mode="json"),
        take=take,
        video_script=video_script.model_dump(mode="json") if video_script else None,
        brand=brand.model_dump(mode="json") if brand else None,
    )
    run = cast(
        "FlowRun",
        run_deployment(
            GPU_DEPLOYMENT,
            parameters=params,
            timeout=settings.job_timeout,
            poll_interval=2,
            flow_run_name=f"avatar {video_id}",
        ),
    )
    logger.info("avatar %s rendered by flow run %s on the gpu pool", video_id, run.id)
    state = run.state
    if state is None or not state.is_final():
        raise TimeoutError(
            f"render-avatar run {run.id} for {video_id} did not finish within "
            f"JOB_TIMEOUT={settings.job_timeout} s"
        )
    if not state.is_completed():
        raise RuntimeError(
            f"render-avatar run {run.id} for {video_id} ended {state.name}: {state.message}"
        )
    result = state.result()
    return AvatarVideo.model_validate(result)


@task(
    name="render-avatar-gpu",
    task_run_name="avatar {video_id} on gpu",
    cache_policy=NO_CACHE,  # the render-avatar flow's own stage task is cached
    persist_result=False,
)
def dispatch_render_avatar(
    image: GeneratedImage,
    audio: GeneratedAudio,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int = 0,
    video_script: VideoScript | None = None,
    brand: Brand | None = None,
) -> AvatarVideo:
    """Run the avatar stage as a ``render-avatar`` flow run on the gpu pool and wait for it."""
    return render_avatar_step(image, audio, options, video_id, cfg, take, video_script, brand)


def avatar_stage(settings: Settings | None = None) -> Any:
    """The task a produce flow submits for the avatar stage: the GPU dispatcher when the
    backend needs a GPU and the deployment exists, else the in-process stage task."""
    s = settings or get_settings()
    if avatar_backend(s) in GPU_BACKENDS and gpu_deployment_id() is not None:
        return dispatch_render_avatar
    return render_avatar


def avatar_stage_tags(
    options: ProduceOptions, settings: Settings | None = None
) -> tuple[Any, list[str]]:
    """The avatar stage's task and the tags naming who renders it: ``provider:<backend>``
    and ``work-pool:gpu`` for the GPU dispatcher (the render-avatar run's own stage task
    carries the provider the GPU worker resolves), else the in-process provider."""
    s = settings or get_settings()
    stage = avatar_stage(s)
    if stage is dispatch_render_avatar:
        return stage, [provider_tag(avatar_backend(s)), f"work-pool:{GPU_POOL}"]
    return stage, [provider_tag(first_provider("avatar", options))]


def _tagged_render(options: ProduceOptions, settings: Settings) -> Any:
    """The stage task with the provider this machine renders with as a tag."""
    tags = [*render_avatar.tags, provider_tag(first_provider("avatar", options))]
    return render_avatar.with_options(**_stage_options(settings), tags=tags)
