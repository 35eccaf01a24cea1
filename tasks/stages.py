"""The produce pipeline's Prefect tasks, one per stage, each a thin wrapper over its providers.

Provider code lives in the stage packages (``tasks.script`` ...) and runs without Prefect;
these wrappers add retries, caching on inputs, persisted results and stage records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE

from novaavatar.domain import (
    ASPECT_SIZES,
    AvatarVideo,
    Chapter,
    ContentItem,
    FinalVideo,
    GeneratedAudio,
    GeneratedImage,
    ProduceOptions,
    QualityReport,
    RenderConfig,
    VideoScript,
    WordTiming,
    stable_id,
)
from novaavatar.errors import InputError
from novaavatar.languages import language, units
from novaavatar.providers import Provider, run_chain
from tasks import background, script, speech
from tasks.common import (
    RENDER_TAG,
    STAGE_CACHE,
    STAGE_RETRIES,
    STAGE_RETRY_DELAYS,
    retry_unless_bad_input,
    stage_cache,
    stage_run,
)
from tasks.script.chain import default_providers as script_chain
from tasks.speech import espeak
from tasks.speech.audio import native_wav_path

if TYPE_CHECKING:
    from novaavatar.templates import Brand

# Stages a reviewer can regenerate; each new "take" gets new file names and a new cache key.
_VOICE_VARIANTS = ("", "+m3", "+f2", "+m7", "+f4", "+m1", "+f1")


def output_name(name: str, *inputs: object) -> str:
    """``background.png`` → ``background-1a2b3c4d.png``, named after what produced it, so a
    regenerated take or a changed upstream stage never overwrites a file that a cached
    result of another run still points to."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}{stable_id('', *inputs, length=8)}{dot}{ext}"


def shift_words(words: Sequence[WordTiming], by: float) -> tuple[WordTiming, ...]:
    """Word timings moved ``by`` seconds later (the speech starts after an intro card)."""
    if by <= 0:
        return tuple(words)
    return tuple(w.model_copy(update=dict(start=w.start + by, end=w.end + by)) for w in words)


def voice_for_take(voice: str, take: int) -> str:
    """A regenerated voice is another eSpeak variant of the same language."""
    if take == 0 or "+" in voice:
        return voice
    return voice + _VOICE_VARIANTS[take % len(_VOICE_VARIANTS)]


P = TypeVar("P", bound=Provider)
T = TypeVar("T")


# --- which provider makes a stage, as a tag on its task run --------------------------------
# Prefect cannot add a tag to a task run once it exists, so a produce flow resolves each
# stage's provider when it submits the stage (the first available one of its chain); a
# fallback that takes over later runs as a task run of its own, tagged with its provider.
PROVIDER_TAG = "provider:"
FALLBACK_TAG = "fallback"
FIXED_PROVIDERS = {"compose": "ffmpeg", "quality": "checks"}


def provider_tag(name: str) -> str:
    """``provider:<name>``, the tag a stage's task run carries."""
    return f"{PROVIDER_TAG}{name}"


def script_providers(options: ProduceOptions) -> list[script.ScriptProvider]:
    """The script chain for the video's format: dialogue, scenes, or a single presenter."""
    if options.format == "conversation":  # host and guest: a dialogue in turns
        from tasks.script import dialogue

        return list(dialogue.default_providers())
    if options.format == "explainer":  # 1-5 minutes in titled scenes
        from tasks.script import scenes as explainer

        return list(explainer.default_providers())
    return list(script_chain())


def stage_chain(stage: str, options: ProduceOptions) -> Sequence[Provider]:
    """The ordered providers of a produce stage for ``options``, as its task runs them."""
    from novaavatar.settings import get_settings

    if stage == "script":
        return script_providers(options)
    if stage == "background":
        return background.default_providers()
    if stage == "speech":
        return speech.for_language(speech.default_providers(), options.language)[0]
    if stage == "avatar":
        from tasks.avatar.providers import default_providers as avatar_providers

        return avatar_providers(get_settings())
    raise ValueError(f"stage {stage!r} has no provider chain")


def first_provider(stage: str, options: ProduceOptions) -> str:
    """The provider that will make ``stage`` (its chain's first available one), or the one
    tool a stage without a chain uses; "none" when nothing is available."""
    if stage in FIXED_PROVIDERS:
        return FIXED_PROVIDERS[stage]
    try:
        return next((p.name for p in stage_chain(stage, options) if p.available()), "none")
    except Exception:  # a misconfigured chain fails in its task, whose record says why
        return "none"


@task(
    name="provider-fallback",
    task_run_name="{stage} by {provider} (fallback)",
    cache_policy=NO_CACHE,  # the stage task around it is cached
    persist_result=False,
)
def provider_fallback(stage: str, provider: str, attempt: Callable[[], T]) -> T:
    """A fallback provider making a stage after the one before it failed."""
    return attempt()


def run_providers(
    stage: str, providers: Sequence[P], call: Callable[[P], T]
) -> tuple[T, P, float, list[str]]:
    """``run_chain``, plus the cost every provider estimated (failed attempts are billed
    too) and the failures before the one that produced the output. Inside a task run, a
    provider after the first available one runs as a nested ``provider-fallback`` task run
    tagged ``provider:<name>`` and ``fallback``, so the Prefect UI shows who took over."""
    from prefect.context import TaskRunContext

    failed: list[str] = []
    tried: list[str] = []

    def attempt(p: P) -> T:
        tried.append(p.name)
        if len(tried) == 1 or TaskRunContext.get() is None:
            return call(p)
        tags = [provider_tag(p.name), FALLBACK_TAG]
        return provider_fallback.with_options(tags=tags)(stage, p.name, lambda: call(p))

    def tracked(p: P) -> T:
        try:
            return attempt(p)
        except InputError:
            raise
        except Exception as e:
            failed.append(f"{p.name} failed: {e}")
            raise

    result, provider = run_chain(stage, providers, tracked)
    cost = sum(float(getattr(p, "cost_usd", 0.0)) for p in providers)
    return result, provider, cost, failed


_stage = dict(
    retries=STAGE_RETRIES,
    retry_delay_seconds=STAGE_RETRY_DELAYS,
    retry_condition_fn=retry_unless_bad_input,
    persist_result=True,
)


@task(
    name="write-script",
    task_run_name="script {video_id}",
    cache_policy=stage_cache("tasks/script", "tasks/speech/espeak.py", "novaavatar/languages.py"),
    **_stage,
)  # type: ignore[call-overload]
def write_script(
    item: ContentItem, options: ProduceOptions, video_id: str, cfg: RenderConfig, take: int = 0
) -> VideoScript:
    """Write the presenter's script for one item."""
    with stage_run(cfg.store_uri, video_id, "script") as run:
        wps = espeak.words_per_second(options.voice, cfg.speech_speed)
        result, provider, run.cost_usd, failed = run_providers(
            "script",
            script_providers(options),
            lambda p: p.write(
                item,
                options.style,
                options.duration_s,
                wps,
                variant=take,
                language=options.language,
                hook=options.hook,
            ),
        )
        run.provider = provider.name
        notes = [*failed, *getattr(provider, "notes", [])]
        if ungrounded := getattr(provider, "ungrounded", ()):
            notes.append(f"{len(ungrounded)} sentence(s) state facts not in the item")
        unit = language(options.language).unit  # words, or characters for Chinese/Japanese
        size = f"{units(result.text)} {unit} at {wps:.2f} {unit}/s in {options.language}"
        run.detail = "; ".join([size, *notes])
        path = run.workdir / "script.json"
        path.write_text(result.model_dump_json(indent=2))
        run.put_file(output_name("script.json", item.id, options, take), path, "application/json")
    return result


@task(name="given-script", task_run_name="given script {video_id}", cache_policy=STAGE_CACHE)
def given_script(
    video_script: VideoScript, video_id: str, cfg: RenderConfig, provider: str = "manual"
) -> VideoScript:
    """Keep the script the user typed (or the title, for uploaded audio), or a reviewer's
    edit (``provider`` "edited": a file of its own, so the generated script stays)."""
    with stage_run(cfg.store_uri, video_id, "script") as run:
        path = run.workdir / "script.json"
        path.write_text(video_script.model_dump_json(indent=2))
        run.provider = provider
        name = "script.json" if provider == "manual" else output_name("script.json", video_script)
        run.put_file(name, path, "application/json")
    return video_script


@task(
    name="make-background",
    task_run_name="background {video_id}",
    cache_policy=stage_cache("tasks/background"),
    **_stage,
)  # type: ignore[call-overload]
def make_background(
    video_script: VideoScript,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int = 0,
) -> GeneratedImage:
    """Make the backdrop image for the video's aspect ratio."""
    size = ASPECT_SIZES[options.aspect]
    if video_script.scenes:  # an explainer: one background per scene
        return _make_scene_backgrounds(video_script, size, video_id, cfg, take)
    with stage_run(cfg.store_uri, video_id, "background") as run:
        out = run.workdir / "background.png"
        seed, provider, run.cost_usd, failed = run_providers(
            "background",
            background.default_providers(),
            lambda p: p.make(
                video_script.scene_description, video_script.keywords, size, out, variant=take
            ),
        )
        run.provider = provider.name
        run.detail = "; ".join([*failed, *getattr(provider, "notes", [])])
        name = output_name(
            "background.png", video_script.scene_description, video_script.keywords, size, take
        )
        key = run.put_file(name, out, "image/png")
    return GeneratedImage(
        key=key,
        width=size[0],
        height=size[1],
        prompt=video_script.scene_description,
        provider=provider.name,
        seed=seed,
    )


@task(
    name="given-background",
    task_run_name="given background {video_id}",
    cache_policy=STAGE_CACHE,
    persist_result=True,
    retry_condition_fn=retry_unless_bad_input,
)
def given_background(
    image_key: str, options: ProduceOptions, video_id: str, cfg: RenderConfig
) -> GeneratedImage:
    """A reviewer's uploaded image as the backdrop, cropped to fill the video's frame."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = ASPECT_SIZES[options.aspect]
    with stage_run(cfg.store_uri, video_id, "background") as run:
        try:
            with Image.open(run.store.materialize(image_key)) as img:
                fitted = ImageOps.fit(img.convert("RGB"), size, Image.Resampling.LANCZOS)
        except (UnidentifiedImageError, OSError) as e:
            raise InputError(
                f"background image {image_key!r} is not a readable image ({e})"
            ) from None
        out = run.workdir / "background.png"
        fitted.save(out, format="PNG")
        run.provider = "upload"
        run.detail = f"uploaded image {image_key}, cropped to {size[0]}x{size[1]}"
        key = run.put_file(output_name("background.png", image_key, size), out, "image/png")
    return GeneratedImage(
        key=key,
        width=size[0],
        height=size[1],
        prompt="uploaded image",
        provider="upload",
        seed=int(stable_id("", image_key, length=6).lstrip("-"), 16),
    )


def _make_scene_backgrounds(
    video_script: VideoScript, size: tuple[int, int], video_id: str, cfg: RenderConfig, take: int
) -> GeneratedImage:
    """One backdrop per scene of an explainer; ``key`` is the first, ``scene_keys`` all."""
    from tasks.background.scenes import make_scene_backgrounds

    with stage_run(cfg.store_uri, video_id, "background") as run:
        made, provider, run.cost_usd, failed = run_providers(
            "background",
            background.default_providers(),
            lambda p: make_scene_backgrounds(
                p, video_script.scenes, video_script.keywords, size, run.workdir, take
            ),
        )
        run.provider = provider.name
        run.detail = "; ".join([f"{len(made)} scenes", *failed, *getattr(provider, "notes", [])])
        keys = tuple(
            run.put_file(
                output_name(f"background-scene{i}.png", scene, video_script.keywords, size, take),
                path,
                "image/png",
            )
            for i, ((path, _), scene) in enumerate(zip(made, video_script.scenes, strict=True))
        )
    return GeneratedImage(
        key=keys[0],
        scene_keys=keys,
        width=size[0],
        height=size[1],
        prompt=video_script.scenes[0].scene_description,
        provider=provider.name,
        seed=made[0][1],
    )


@task(
    name="synthesize-speech",
    task_run_name="speech {video_id}",
    cache_policy=stage_cache("tasks/speech", "novaavatar/languages.py"),
    **_stage,
)  # type: ignore[call-overload]
def synthesize_speech(
    video_script: VideoScript,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int = 0,
) -> GeneratedAudio:
    """Speak the script: 16 kHz mono wav with word and phoneme timings."""
    with stage_run(cfg.store_uri, video_id, "speech") as run:
        out = run.workdir / "speech.wav"
        # Dia speaks English only: another language goes to OpenAI TTS or eSpeak NG
        providers, notes = speech.for_language(speech.default_providers(), options.language)
        clip = None
        if options.voice_clip_key:  # a presenter's voice for Dia to clone
            clip = run.store.materialize(options.voice_clip_key)
        providers = speech.with_voice(
            providers, options.openai_voice, clip, options.voice_clip_text
        )
        if options.format == "conversation" and video_script.turns:  # two voices, one track
            from tasks.speech.dialogue import guest_voice_for, speak_dialogue

            host = voice_for_take(options.voice, take)
            guest = voice_for_take(guest_voice_for(options.voice, options.guest_voice), take)
            result: speech.SpeechOutput
            result, provider, _, _ = run_providers(
                "speech",
                providers,
                lambda p: speak_dialogue(p, video_script.turns, host, guest, cfg.speech_speed, out),
            )
        else:
            result, provider, _, _ = run_providers(
                "speech",
                providers,
                lambda p: p.speak(
                    video_script.text, voice_for_take(options.voice, take), cfg.speech_speed, out
                ),
            )
        segments = getattr(result, "segments", ())
        if video_script.scenes:  # an explainer: where each scene is spoken
            from tasks.speech.scenes import scene_segments

            texts = [s.text for s in video_script.scenes]
            segments = scene_segments(texts, result.words, result.duration_s)
        run.provider = provider.name
        notes += speech.speech_notes(provider.name, options.language, video_script.text)
        own = "dia" if clip is not None else "openai-tts" if options.openai_voice else None
        if own is not None and provider.name != own:
            run.warn(
                f"the presenter's {'Dia voice clip' if own == 'dia' else 'OpenAI voice'} was "
                f"not used: {provider.name} spoke with {result.voice} "
                f"({'DIA_MODEL_PATH' if own == 'dia' else 'OPENAI_API_KEY'} unset, or it failed)"
            )
        run.detail = "; ".join([result.voice, *notes])
        own_voice = [v for v in (options.openai_voice, options.voice_clip_key) if v]
        tag = stable_id(
            "", video_script.text, options.voice, cfg.speech_speed, take, *own_voice, length=8
        )
        key = run.put_file(f"speech{tag}.wav", out, "audio/wav")
        native = native_wav_path(out)  # Dia's 44.1 kHz / OpenAI's 24 kHz, for the final mix
        if native.is_file():
            run.put_file(f"speech-native{tag}.wav", native, "audio/wav")
        timings = {
            "words": [w.model_dump() for w in result.words],
            "phonemes": [p.model_dump() for p in result.phonemes],
            "segments": [s.model_dump() for s in segments],
        }
        t = run.workdir / "timings.json"
        t.write_text(json.dumps(timings))
        run.put_file(f"timings{tag}.json", t, "application/json")
    return GeneratedAudio(
        key=key,
        duration_s=result.duration_s,
        words=result.words,
        phonemes=result.phonemes,
        voice=result.voice,
        provider=provider.name,
        segments=segments,
    )


@task(
    name="render-avatar",
    task_run_name="avatar {video_id}",
    tags=[RENDER_TAG],
    cache_policy=stage_cache(
        "tasks/avatar",
        "tasks/compose",
        "novaavatar/media.py",
        "novaavatar/languages.py",
        "OmniAvatar",
    ),
    **_stage,
)  # type: ignore[call-overload]
def render_avatar(
    image: GeneratedImage,
    audio: GeneratedAudio,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
    take: int = 0,
    video_script: VideoScript | None = None,
    brand: Brand | None = None,
) -> AvatarVideo:
    """Animate the presenter over the background, lip-synced to the speech.

    With the script, captions and title are drawn in the same pass (one encode for the
    whole video); compose then only adds the levelled speech. ``brand`` (the pinned
    template) adds its logo, lower third and caption colours in that pass.
    """
    import numpy as np
    from PIL import Image
    from prefect.artifacts import create_progress_artifact, update_progress_artifact
    from prefect.context import TaskRunContext

    from novaavatar.settings import get_settings
    from tasks.avatar.providers import AvatarJob
    from tasks.avatar.providers import default_providers as avatar_providers
    from tasks.avatar.reference import presenter_portrait
    from tasks.avatar.scenes import explainer_scenes

    branded = (brand,) if brand is not None else ()  # a template edit: new file names

    in_run = TaskRunContext.get() is not None  # .fn() in tests and scripts has no run to report to
    progress_id = (
        create_progress_artifact(0.0, description=f"avatar {video_id}") if in_run else None
    )
    last = [0.0]

    def progress(done: int, total: int) -> None:
        pct = 100.0 * done / max(total, 1)
        if progress_id is not None and (pct - last[0] >= 10 or done == total):
            last[0] = pct  # a few updates, not one per frame
            update_progress_artifact(progress_id, pct)  # type: ignore[arg-type]

    with stage_run(cfg.store_uri, video_id, "avatar") as run:
        store = run.store
        settings = get_settings()
        tag = stable_id(
            "", image.key, audio.key, options, take, video_script, cfg.providers, *branded, length=8
        )

        def keep(name: str, picture: np.ndarray) -> None:  # e.g. OmniAvatar's reference frame
            path = run.workdir / f"{name}.png"
            Image.fromarray(picture).save(path)
            run.put_file(f"{name}{tag}.png", path, "image/png")

        guest = options.guest_portrait_key
        scripted = video_script is not None  # captions, title and brand are drawn with a script
        job = AvatarJob(
            background=store.materialize(image.key),
            speech=store.materialize(audio.key),
            out=run.workdir / "avatar.mp4",
            size=(image.width, image.height),
            fps=cfg.fps,
            seed=image.seed + 7919 * take,
            format=options.format,
            layout=options.layout,
            portrait=presenter_portrait(store, options.portrait_key, settings),
            guest_portrait=store.materialize(guest) if guest else None,
            phonemes=audio.phonemes,
            words=audio.words if scripted else None,
            segments=audio.segments,
            title=video_script.title if video_script is not None else "",
            scene=video_script.scene_description if video_script is not None else "",
            caption_style=options.caption_style,
            transition=options.transition,
            scenes=explainer_scenes(store, image, audio, video_script),
            brand=brand if scripted else None,
            language=video_script.language if video_script is not None else options.language,
            crf=cfg.crf,
            preset=cfg.preset,
            progress=progress,
            keep=keep,
        )
        info, provider, run.cost_usd, failed = run_providers(
            "avatar", avatar_providers(settings), lambda p: p.render(job)
        )
        run.provider = provider.name
        for failure in failed:  # never silent: logs, an artifact, the manifest, the review page
            run.warn(f"{failure}; the {provider.name} renderer made the video instead")
        run.detail = "; ".join([*failed, provider.describe(job)])
        key = run.put_file(f"avatar{tag}.mp4", job.out, "video/mp4")
    return AvatarVideo(
        key=key,
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration_s=info.duration_s,
        provider=run.provider,
        captions_burnt=info.captions_burnt,
    )


@task(
    name="compose-video",
    task_run_name="compose {video_id}",
    tags=[RENDER_TAG],
    cache_policy=stage_cache("tasks/compose", "novaavatar/media.py", "novaavatar/languages.py"),
    **_stage,
)  # type: ignore[call-overload]
def compose_video(
    avatar: AvatarVideo,
    audio: GeneratedAudio,
    video_script: VideoScript,
    video_id: str,
    cfg: RenderConfig,
    brand: Brand | None = None,
) -> FinalVideo:
    """Burn in captions, mix the speech, write the final MP4 and its SRT/VTT files.

    A ``brand`` adds its intro and outro cards; the captions files shift by the intro.
    """
    from tasks.compose.captions import build_captions, to_srt, to_vtt
    from tasks.compose.video import compose_final

    with stage_run(cfg.store_uri, video_id, "compose") as run:
        store = run.store
        out = run.workdir / "final.mp4"
        info = compose_final(
            store.materialize(avatar.key),
            store.materialize(audio.key),
            audio.words,
            out,
            title=video_script.title,
            crf=cfg.crf,
            preset=cfg.preset,
            burn_captions=not avatar.captions_burnt,
            brand=brand,
            language=video_script.language,
        )
        captions = build_captions(shift_words(audio.words, info.intro_s))
        srt, vtt = run.workdir / "captions.srt", run.workdir / "captions.vtt"
        srt.write_text(to_srt(captions), encoding="utf-8")
        vtt.write_text(to_vtt(captions), encoding="utf-8")
        chapters: tuple[Chapter, ...] = ()
        if video_script.scenes:  # an explainer: its scenes as chapters, in the MP4 and as WebVTT
            from tasks.compose import chapters as ch

            found = ch.chapters_for(video_script.scenes, audio.segments, audio.duration_s)
            chapters = ch.shifted(found, getattr(info, "intro_s", 0.0), info.duration_s)
            if chapters:
                ch.write_chapters(out, chapters)
                (run.workdir / "chapters.vtt").write_text(ch.to_vtt_chapters(chapters), "utf-8")
        run.provider = "ffmpeg"
        # named by the avatar take, so a regenerated video never overwrites a cached one
        tag = avatar.key.rsplit("/", 1)[-1].removeprefix("avatar").removesuffix(".mp4")
        key = run.put_file(f"final{tag}.mp4", out, "video/mp4")
        srt_key = run.put_file(f"captions{tag}.srt", srt, "application/x-subrip")
        vtt_key = run.put_file(f"captions{tag}.vtt", vtt, "text/vtt")
        chapters_key = None
        if chapters:
            chapters_key = run.put_file(
                f"chapters{tag}.vtt", run.workdir / "chapters.vtt", "text/vtt"
            )
    return FinalVideo(
        key=key,
        srt_key=srt_key,
        vtt_key=vtt_key,
        width=info.width,
        height=info.height,
        fps=info.fps,
        duration_s=info.duration_s,
        size_bytes=info.size_bytes,
        intro_s=info.intro_s,
        outro_s=info.outro_s,
        chapters=chapters,
        chapters_key=chapters_key,
    )


@task(
    name="check-quality",
    task_run_name="quality {video_id}",
    cache_policy=stage_cache("tasks/quality.py", "novaavatar/media.py", "novaavatar/languages.py"),
    **_stage,
)  # type: ignore[call-overload]
def check_quality(
    final: FinalVideo,
    audio: GeneratedAudio,
    video_script: VideoScript,
    options: ProduceOptions,
    video_id: str,
    cfg: RenderConfig,
) -> QualityReport:
    """Measure the final video: streams, sync, loudness, frames, captions, length."""
    from tasks.quality import assess

    with stage_run(cfg.store_uri, video_id, "quality") as run:
        report = assess(run.store, final, audio, video_script, options)
        run.provider = "checks"
        run.detail = f"{sum(c.passed for c in report.checks)}/{len(report.checks)} passed"
        path = run.workdir / "quality.json"
        path.write_text(report.model_dump_json(indent=2))
        run.keys.append(run.store.put_file(f"videos/{video_id}/quality.json", path))
    return report
