"""What every produce flow needs before it submits stages: the render config, the
providers' fingerprint, the render concurrency limit and persisted results."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from novaavatar.domain import RenderConfig
from novaavatar.settings import Settings, get_settings
from novaavatar.store import get_store


def render_config(settings: Settings | None = None) -> RenderConfig:
    s = settings or get_settings()
    return RenderConfig(
        store_uri=get_store(s).uri,
        speech_speed=s.tts_speed,
        fps=s.avatar_fps,
        crf=s.video_crf,
        preset=s.video_preset,
        providers=provider_fingerprint(s),
    )


def provider_fingerprint(s: Settings) -> str:
    """The first available provider of each stage (with its model), e.g. ``script:openai``."""
    from tasks import background, speech
    from tasks.script.chain import default_providers as script_chain

    chains: dict[str, list[Any]] = {
        "script": script_chain(),
        "background": background.default_providers(),
        "speech": speech.default_providers(),
    }
    models = {
        "openai": s.openai_model,
        "flux": f"{s.flux_model}:{s.background_style}:{s.background_candidates}",
        "openai-tts": f"{s.openai_tts_model}:{s.openai_tts_voice}",
        "dia": f"{s.dia_model_path}:{s.dia_seed}:{s.dia_reference_audio}",
    }
    out = []
    for stage, chain in chains.items():
        first = next((p.name for p in chain if p.available()), "none")
        out.append(f"{stage}:{first}" + (f":{models[first]}" if first in models else ""))
    from tasks.avatar.omniavatar import omniavatar_available

    if omniavatar_available(s):  # its settings change the frames; lite has none of its own
        out.append(
            f"avatar:omniavatar:{'14B' if s.use_14b_model else '1.3B'}:{s.num_steps}:"
            f"{s.guidance_scale}:{s.audio_scale}:{s.tea_cache_thresh}:{s.omniavatar_max_hw}:"
            f"{s.omniavatar_dtype}:{'/'.join(map(str, s.omniavatar_tea_cache_coefficients))}"
        )
    else:
        out.append("avatar:lite")
    if s.portrait_path is not None and Path(s.portrait_path).is_file():  # the presenter's face
        out.append(
            f"portrait:{hashlib.sha256(Path(s.portrait_path).read_bytes()).hexdigest()[:12]}"
        )
    return ",".join(out)


def ensure_render_limit(settings: Settings) -> None:
    """A Prefect tag concurrency limit: at most MAX_CONCURRENT_JOBS renders at once,
    across every worker (not a home-made semaphore). Labels this run with its process and
    first gives back the slots of runs whose process died (novaavatar.sweep)."""
    from prefect.client.orchestration import get_client

    from novaavatar.sweep import label_current_flow_run, sweep_quietly
    from tasks.common import RENDER_TAG

    with get_client(sync_client=True) as client:
        client.create_concurrency_limit(
            tag=RENDER_TAG, concurrency_limit=settings.max_concurrent_jobs
        )
    label_current_flow_run()
    sweep_quietly(RENDER_TAG)


def with_results(settings: Settings) -> dict[str, Any]:
    """Task options that persist results next to the artifacts, so reruns hit the cache.

    With ``ARTIFACT_STORE=s3`` results go to the same bucket (``<prefix>/prefect-results``),
    so a worker on another host finds them; else under STORAGE_PATH.
    """
    from novaavatar.domain import stable_id

    if settings.artifact_store == "s3":
        from blocks.s3_store import S3ResultStorage

        prefix = "/".join(p for p in (settings.s3_prefix.strip("/"), "prefect-results") if p)
        block = S3ResultStorage(
            endpoint=settings.s3_endpoint,
            bucket=settings.s3_bucket,
            prefix=prefix,
            region=settings.s3_region,
            secure=settings.s3_secure,
        )
        where = f"{settings.s3_endpoint}/{settings.s3_bucket}/{prefix}"
        name = stable_id("novaavatar-results", where, length=10)
        # no credentials in it: workers use their settings. `_sync`: saved here and now even
        # when the caller's thread runs an event loop (Prefect would hand back a coroutine)
        block.save(name, overwrite=True, _sync=True)  # type: ignore[call-arg]
        return {"result_storage": f"{block.get_block_type_slug()}/{name}"}

    from prefect.filesystems import LocalFileSystem

    path = settings.results_path.resolve()
    path.mkdir(parents=True, exist_ok=True)
    # Prefect wants result storage saved server-side; one block per results folder
    name = stable_id("novaavatar-results", str(path), length=10)
    LocalFileSystem(basepath=str(path)).save(name, overwrite=True, _sync=True)  # type: ignore[call-arg]
    return {"result_storage": f"local-file-system/{name}"}
