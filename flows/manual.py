"""Manual creation: an uploaded portrait with uploaded audio or typed text → the review queue."""

from __future__ import annotations

import numpy as np
from prefect import flow, task
from prefect.task_runners import ThreadPoolTaskRunner

from flows.graph import collect, submit_graph
from novaavatar import templates
from novaavatar.domain import (
    ContentItem,
    GeneratedAudio,
    ProduceOptions,
    RenderConfig,
    ReviewState,
    ScriptScene,
    ScriptTurn,
    VideoScript,
    duration_range,
    stable_id,
    video_id_for,
)
from novaavatar.errors import InputError
from novaavatar.languages import units
from novaavatar.logs import run_settings
from novaavatar.store import get_store
from novaavatar.uploads import MAX_AUDIO_S
from tasks.common import (
    job_timeout,
    retry_unless_bad_input,
    stage_cache,
    stage_run,
)
from tasks.pipeline import ensure_render_limit, render_config, with_results
from tasks.stages import given_script, provider_tag

SILENCE_RMS = 1e-3


@task(
    name="import-speech",
    task_run_name="import speech {video_id}",
    cache_policy=stage_cache("tasks/speech", "novaavatar/media.py"),
    persist_result=True,
    retries=1,
    retry_condition_fn=retry_unless_bad_input,
)
def import_speech(audio_key: str, video_id: str, cfg: RenderConfig) -> GeneratedAudio:
    """Turn an uploaded audio file into the 16 kHz mono speech track."""
    from novaavatar.media import read_audio
    from tasks.speech import write_wav_16k

    with stage_run(cfg.store_uri, video_id, "speech") as run:
        samples = read_audio(run.store.materialize(audio_key), 16000)
        duration = len(samples) / 16000
        if duration < 0.5:
            raise InputError(
                f"audio {audio_key!r} lasts {duration:.2f} s: at least 0.5 s is needed"
            )
        if duration > MAX_AUDIO_S:
            raise InputError(
                f"audio {audio_key!r} lasts {duration:.0f} s: the limit is {MAX_AUDIO_S:.0f} s"
            )
        if float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) < SILENCE_RMS:
            raise InputError(f"audio {audio_key!r} is silent: nothing to lip-sync")
        out = run.workdir / "speech.wav"
        write_wav_16k(samples, 16000, out)
        run.provider = "upload"
        key = run.put_file("speech.wav", out, "audio/wav")
    return GeneratedAudio(key=key, duration_s=duration, voice="upload", provider="upload")


def _explainer_scenes(
    text: str | None, audio_key: str | None, prompt: str
) -> tuple[ScriptScene, ...]:
    """A typed explainer (a paragraph per scene, '# Title' lines) as scenes; InputError if not."""
    from tasks.script.scenes import parse_scenes

    if audio_key:
        raise InputError(
            "an explainer is spoken from text, a paragraph per scene, not from one uploaded "
            "audio: give text instead"
        )
    try:
        return parse_scenes(text or "", prompt)
    except ValueError as e:
        raise InputError(f"explainer text: {e}") from None


def _conversation_turns(text: str | None, audio_key: str | None) -> tuple[ScriptTurn, ...]:
    """A typed conversation ('Host: ...' / 'Guest: ...' lines) as turns; InputError if not."""
    from tasks.script.dialogue import parse_dialogue

    if audio_key:
        raise InputError(
            "a conversation is spoken from text with 'Host:' and 'Guest:' lines, "
            "not from one uploaded audio: give text instead"
        )
    try:
        return parse_dialogue(text or "")
    except ValueError as e:
        raise InputError(f"conversation text: {e}") from None


@flow(
    name="manual-create",
    flow_run_name="manual {title}",
    log_prints=True,
    timeout_seconds=job_timeout(),
    task_runner=ThreadPoolTaskRunner(max_workers=3),  # type: ignore[arg-type]
)
def manual_create(
    title: str,
    audio_key: str | None = None,
    text: str | None = None,
    prompt: str = "",
    options: ProduceOptions | None = None,
) -> str:
    """Render an uploaded portrait (``options.portrait_key``, else the built-in presenter)
    speaking uploaded audio or the given text (spoken by the TTS); the video enters the
    review queue.

    ``options.language`` is the text's (en, es, ar, zh...): it picks the voice when none is
    given and how the captions are written (right to left, no spaces in Chinese/Japanese).
    ``options.template`` (name[@version]) fills the voice, layout and portrait left unset and
    brands the video; without one an upload keeps the plain look (it is not a news item).
    The duration follows the speech unless ``options.duration_s`` is set."""
    from tasks.speech import espeak

    chosen = options.chosen() if options is not None else {}
    chosen.setdefault("template", templates.NO_TEMPLATE)
    chosen.setdefault("style", "professional")
    fmt = str(chosen.get("format", "single"))
    portrait_key = chosen.get("portrait_key")
    if not title.strip():
        raise InputError("title is empty: give the video a title")
    if not audio_key and not (text and text.strip()):
        raise InputError("give either an uploaded audio (audio_key) or a text to speak")
    settings = run_settings()
    store = get_store(settings)
    for key in (portrait_key, audio_key, chosen.get("guest_portrait_key")):
        if key and not store.exists(str(key)):
            raise InputError(f"upload {key!r} is not in the store: upload it first")
    turns = _conversation_turns(text, audio_key) if fmt == "conversation" else ()
    scenes = _explainer_scenes(text, audio_key, prompt) if fmt == "explainer" else ()
    if scenes:
        from tasks.script.scenes import joined_text as scenes_text

        text = scenes_text(scenes)
    if turns:
        from tasks.script.dialogue import joined_text

        text = joined_text(turns)
    # the template's voice sets the pace, so resolve the options before estimating the length
    first = templates.build_options(chosen, store, settings)
    if "duration_s" not in chosen:
        words = units(text or "")  # characters in Chinese/Japanese, as the rate is measured
        wps = espeak.words_per_second(first.voice, settings.tts_speed)
        lo, hi = duration_range(fmt)
        est = words / wps if words else lo
        chosen["duration_s"] = float(min(max(est, lo), hi))
    options = templates.build_options(chosen, store, settings)
    item = ContentItem(
        id=stable_id("manual", title, text, audio_key, portrait_key, prompt),
        title=title.strip()[:500],
        summary=(text or "")[:5000],
        source="manual upload",
    )
    vid = video_id_for(item, options)
    cfg = render_config(settings)
    opts = with_results(settings)
    ensure_render_limit(settings)
    script = VideoScript(
        text=(text or "").strip() or title.strip(),
        style="professional",
        target_duration_s=options.duration_s,
        title=item.title,
        scene_description=prompt or "A clean modern studio backdrop; calm lighting; no text.",
        provider="manual",
        language=options.language,
        turns=turns,
        scenes=scenes,
    )
    # the provider tag of each stage, as produce flows tag theirs: the user's own text and audio
    script_future = given_script.with_options(
        **opts, tags=[*given_script.tags, provider_tag("manual")]
    ).submit(script, vid, cfg)
    audio = None
    if audio_key:
        speech_tags = [*import_speech.tags, provider_tag("upload")]
        audio = import_speech.with_options(**opts, tags=speech_tags).submit(audio_key, vid, cfg)
    pending = submit_graph(item, options, cfg, opts, script=script_future, audio=audio)
    manifest = collect(pending, options, cfg)
    if manifest.state is ReviewState.FAILED:
        raise InputError(f"video {vid} failed: {manifest.error}")
    print(f"video {vid} is {manifest.state.value}")
    return vid
