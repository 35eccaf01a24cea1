"""``novaavatar``: the command line. Every error is one line on stderr and a non-zero exit."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from novaavatar.errors import NovaAvatarError

app = typer.Typer(
    help="NovaAvatar: news → short talking-presenter videos, approved by a person.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

StyleOpt = Annotated[
    str | None,
    typer.Option(
        help="news_anchor, casual, educational, entertaining or professional; "
        "default: DEFAULT_STYLE."
    ),
]
DurationOpt = Annotated[
    float | None,
    typer.Option(
        help="Target length in seconds (15–90; explainers 60–300); default: DEFAULT_DURATION."
    ),
]
AspectOpt = Annotated[str, typer.Option(help="9:16, 16:9 or 1:1.")]
ChosenAspectOpt = Annotated[
    str | None, typer.Option("--aspect", help="9:16, 16:9 or 1:1; default: DEFAULT_ASPECT.")
]
VoiceOpt = Annotated[
    str | None,
    typer.Option(help="eSpeak NG voice, e.g. en-us, en-gb, de, fr; default: the template's."),
]
LayoutOpt = Annotated[
    str | None, typer.Option(help="studio (presenter in front), pip (window at the side) or full.")
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help="single (one presenter), conversation (host and guest) or explainer (1–5 min scenes).",
    ),
]
ConsentOpt = Annotated[
    bool,
    typer.Option(
        "--i-have-consent",
        help="Attest that you have the right to use the likeness in --portrait (recorded with "
        "your name and the time, and carried into the manifest and exports).",
    ),
]
TemplateOpt = Annotated[
    str | None,
    typer.Option(
        help="Brand template name[@version], e.g. news, shorts@1, or none; default: the "
        "format's. It fills voice, layout and captions you leave unset."
    ),
]


def _prefect_defaults() -> None:
    """Keep Prefect's database and settings inside the project unless the user chose."""
    from novaavatar.settings import PROJECT_ROOT

    home = os.environ.setdefault("PREFECT_HOME", str(PROJECT_ROOT / ".prefect"))
    Path(home).expanduser().mkdir(parents=True, exist_ok=True)  # SQLite needs the folder
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_UI_ENABLED", "false")


# Commands that run Prefect flows; the others (queue, stats, doctor, ...) need no server.
_RUNS_FLOWS = {"demo", "scrape", "produce", "create", "regenerate", "export"}


def _prefect_api(argv: list[str]) -> contextlib.AbstractContextManager[object]:
    """The running stack's server, else one temporary server for this command."""
    if not argv or argv[0] not in _RUNS_FLOWS or "--help" in argv:
        return contextlib.nullcontext()
    from novaavatar.service.prefect_server import using_prefect_api

    return using_prefect_api()


def _echo_videos(video_ids: list[str]) -> None:
    from novaavatar import manifests
    from novaavatar.store import get_store

    store = get_store()
    for vid in video_ids:
        m, _ = manifests.load(store, vid)
        where = store.materialize(m.final.key) if m.final else "-"
        failed = [c.name for c in m.quality.failed] if m.quality else []
        qc = "all checks passed" if m.quality and not failed else f"checks failed: {failed}"
        typer.echo(f"{vid}  {m.state.value:8}  {where}  ({qc})")


PresenterOpt = Annotated[
    str | None,
    typer.Option(
        help="Presenter profile name[@version] (see `novaavatar presenter list`), or none; "
        "default: the template's, then DEFAULT_PRESENTER. It fills portrait, voice and layout."
    ),
]


@app.command()
def demo(
    count: Annotated[int, typer.Option(help="How many videos to make.")] = 2,
    duration: DurationOpt = None,
    aspect: ChosenAspectOpt = None,
) -> None:
    """Produce videos from the bundled sample stories (fiction, badged SAMPLE) for review."""
    from novaavatar.service import production
    from novaavatar.store import get_store

    options = production.options_from(dict(duration_s=duration, aspect=aspect))
    items = production.scrape([], [], max(count, 1) * 3, sample=True).run_here(by=_who(None))
    ids = production.produce(get_store(), [i.id for i in items[:count]], options).run_here(
        by=_who(None)
    )
    typer.echo(f"\n{len(ids)} videos are waiting for review:")
    _echo_videos(ids)
    typer.echo("\nApprove with `novaavatar approve VIDEO_ID`, then `novaavatar export`.")


@app.command()
def scrape(
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Feed URL or file (repeatable).")
    ] = None,
    keyword: Annotated[list[str] | None, typer.Option(help="Topic keyword (repeatable).")] = None,
    limit: Annotated[int, typer.Option(help="Keep at most this many items.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print the items as JSON.")] = False,
    sample: Annotated[
        bool,
        typer.Option("--sample", help="The bundled sample stories (fiction, never published)."),
    ] = False,
) -> None:
    """Fetch sources (or RSS_FEEDS) and list the ranked items; fails when none answers."""
    from novaavatar.errors import InputError
    from novaavatar.service import production

    if sample and source:
        raise InputError("--sample reads only the bundled fictional stories: drop --source")
    items = production.scrape(source or [], keyword or [], limit, sample=sample).run_here(
        by=_who(None)
    )
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    for i in items:
        badge = "SAMPLE " if i.sample else ""
        typer.echo(f"{i.id}  {i.score:5.3f}  {i.source[:24]:24}  {badge}{i.title[:80]}")


@app.command()
def produce(
    item_ids: Annotated[list[str] | None, typer.Argument(help="Item ids from `scrape`.")] = None,
    top: Annotated[int, typer.Option(help="Without ids: produce the top N items.")] = 1,
    style: StyleOpt = None,
    duration: DurationOpt = None,
    aspect: ChosenAspectOpt = None,
    voice: VoiceOpt = None,
    layout: LayoutOpt = None,
    video_format: FormatOpt = None,
    language: Annotated[
        list[str] | None,
        typer.Option(help="Script/voice language, e.g. es, ar, zh (repeat: one video each)."),
    ] = None,
    template: TemplateOpt = None,
    guest_voice: Annotated[
        str | None,
        typer.Option(help="Conversation: the guest's voice (default: one contrasting the host)."),
    ] = None,
    transition: Annotated[
        str | None, typer.Option(help="Explainer: how scenes change: crossfade, wipe or cut.")
    ] = None,
    variants: Annotated[
        int | None,
        typer.Option(
            help="A/B takes: 2-4 videos per item whose scripts differ in hook and style, "
            "reviewed side by side; approving one rejects the others."
        ),
    ] = None,
    hook: Annotated[
        str | None,
        typer.Option(help="How the script opens: headline, question, stakes or surprise."),
    ] = None,
    presenter: PresenterOpt = None,
) -> None:
    """Produce videos for scraped items; they land in the review queue. Options left out
    come from the template, then DEFAULT_STYLE, DEFAULT_DURATION, DEFAULT_ASPECT, TTS_VOICE."""
    from novaavatar.service import production
    from novaavatar.store import get_store

    options = production.options_from(
        dict(
            style=style,
            duration_s=duration,
            aspect=aspect,
            voice=voice,
            layout=layout,
            format=video_format,
            template=template,
            guest_voice=guest_voice,
            transition=transition,
            variants=variants,
            hook=hook,
            presenter=presenter,
        )
    )
    # checked here (options, voices, item ids), so a mistake is one line, not a failed run
    work = production.produce(get_store(), item_ids, options, language, top)
    ids = work.run_here(by=_who(None))
    _echo_videos(ids)


@app.command()
def speak(
    text: Annotated[str, typer.Option(help="What to say.")],
    out: Annotated[Path, typer.Option(help="Output .wav (16 kHz mono).")],
    voice: Annotated[
        str,
        typer.Option(help="eSpeak NG voice (en-us, de, fr...) or, for openai, alloy, nova..."),
    ] = "en-us",
    speed: Annotated[int, typer.Option(help="Words per minute (80–450).")] = 165,
    backend: Annotated[
        str | None,
        typer.Option(help="auto, dia, openai or espeak (default: TTS_BACKEND, else auto)."),
    ] = None,
    reference_audio: Annotated[
        Path | None, typer.Option(help="5–15 s clip of a voice for Dia to clone.")
    ] = None,
    reference_text: Annotated[
        str | None, typer.Option(help="What the reference clip says (with --reference-audio).")
    ] = None,
) -> None:
    """Speak text (Dia, OpenAI TTS or eSpeak NG); writes the wav and a .json of timings."""
    from novaavatar.errors import InputError
    from novaavatar.providers import run_chain
    from novaavatar.settings import load_settings
    from tasks.speech import default_providers

    overrides: dict[str, object] = {}
    if backend is not None:
        if backend not in ("auto", "dia", "openai", "espeak"):
            raise InputError(f"--backend {backend!r}: choose auto, dia, openai or espeak")
        overrides["tts_backend"] = backend
    if (reference_audio is None) != (reference_text is None):
        raise InputError("--reference-audio and --reference-text go together: give both")
    if reference_audio is not None:
        if backend not in (None, "dia"):
            raise InputError(f"--reference-audio clones a voice with Dia, not --backend {backend}")
        if not reference_audio.is_file():
            raise InputError(f"reference audio {reference_audio} does not exist")
        overrides |= {
            "tts_backend": "dia",
            "dia_reference_audio": reference_audio,
            "dia_reference_text": reference_text,
        }
    settings = load_settings(**overrides)
    result, provider = run_chain(
        "speech", default_providers(settings), lambda p: p.speak(text, voice, speed, out)
    )
    timings = out.with_suffix(".json")
    timings.write_text(
        json.dumps(
            {
                "provider": provider.name,
                "voice": result.voice,
                "duration_s": result.duration_s,
                "words": [w.model_dump() for w in result.words],
                "phonemes": [p.model_dump() for p in result.phonemes],
            },
            indent=2,
        )
    )
    typer.echo(
        f"{out}  {result.duration_s:.2f} s, {len(result.words)} words, {provider.name} "
        f"({result.voice})  (timings: {timings})"
    )


@app.command()
def render(
    audio: Annotated[Path, typer.Option(help="Speech audio (wav/mp3/...).")],
    out: Annotated[Path, typer.Option(help="Output .mp4.")],
    portrait: Annotated[
        Path | None, typer.Option(help="Presenter photo; default: the built-in presenter.")
    ] = None,
    background: Annotated[Path | None, typer.Option(help="Background image.")] = None,
    aspect: AspectOpt = "9:16",
    timings: Annotated[
        Path | None, typer.Option(help="Timings .json from `speak` (else from the audio).")
    ] = None,
    layout: LayoutOpt = "studio",
    face_index: Annotated[
        int | None, typer.Option(help="Which face of a group photo (0 = leftmost).")
    ] = None,
    i_have_consent: ConsentOpt = False,
) -> None:
    """Portrait + audio → a talking-presenter video (lite CPU renderer)."""
    import tempfile

    from novaavatar.consent import HOW_TO_ATTEST
    from novaavatar.domain import ASPECT_SIZES, PhonemeTiming
    from novaavatar.errors import InputError
    from tasks.avatar.lite import render_lite
    from tasks.background import procedural_background

    if portrait is not None and not i_have_consent:
        raise InputError(f"--portrait {portrait}: {HOW_TO_ATTEST}")
    if aspect not in ASPECT_SIZES:
        raise InputError(f"unknown aspect {aspect!r}: choose one of {', '.join(ASPECT_SIZES)}")
    if not audio.is_file():
        raise InputError(f"audio {audio} does not exist")
    size = ASPECT_SIZES[aspect]
    # without timings the renderer follows the audio's loudness
    phonemes = []
    if timings is not None:
        phonemes = [PhonemeTiming(**p) for p in json.loads(timings.read_text())["phonemes"]]
    with tempfile.TemporaryDirectory() as tmp:
        bg = background
        if bg is None:
            bg = Path(tmp) / "background.png"
            procedural_background(7, size).save(bg)
        info = render_lite(
            bg,
            audio,
            phonemes,
            out,
            size=size,
            portrait=portrait,
            layout=layout or "studio",
            face_index=face_index,
            language="en",  # the AI-generated label, as on every video
        )
    typer.echo(f"{out}  {info.width}x{info.height}, {info.duration_s:.2f} s")


@app.command()
def create(
    title: Annotated[str, typer.Option(help="Title of the video.")],
    portrait: Annotated[
        Path | None, typer.Option(help="Presenter photo; default: the built-in presenter.")
    ] = None,
    audio: Annotated[Path | None, typer.Option(help="Speech to lip-sync (≤ 10 min).")] = None,
    text: Annotated[str | None, typer.Option(help="Text to speak instead of audio.")] = None,
    prompt: Annotated[str, typer.Option(help="What the background should show.")] = "",
    aspect: ChosenAspectOpt = None,
    voice: VoiceOpt = None,
    layout: LayoutOpt = None,
    template: TemplateOpt = None,
    i_have_consent: ConsentOpt = False,
    by: Annotated[
        str | None, typer.Option(help="Who attests the consent (default: $USER).")
    ] = None,
    presenter: PresenterOpt = None,
) -> None:
    """Manual creation: portrait + audio or text → a video in the review queue."""
    from novaavatar import consent
    from novaavatar.errors import InputError
    from novaavatar.service import production
    from novaavatar.store import get_store
    from novaavatar.uploads import store_audio, store_portrait

    store = get_store()
    for path, what in ((portrait, "portrait"), (audio, "audio")):
        if path is not None and not path.is_file():
            raise InputError(f"{what} {path} does not exist")
    if portrait is not None and not i_have_consent:
        raise InputError(f"--portrait {portrait}: {consent.HOW_TO_ATTEST}")
    if audio is None and not (text and text.strip()):
        raise InputError("give --audio FILE or --text 'what to say'")
    chosen = dict(aspect=aspect, voice=voice, layout=layout, template=template, presenter=presenter)
    production.check_manual(store, title, production.options_from(chosen), audio is not None, text)
    if portrait is not None:
        portrait_key = store_portrait(store, portrait.read_bytes(), str(portrait))
        consent.attest(store, portrait_key, _who(by), via="cli")
        chosen["portrait_key"] = portrait_key
    audio_key = store_audio(store, audio.read_bytes(), str(audio)) if audio else None
    options = production.options_from(chosen)
    _echo_videos(
        [production.manual(store, title, options, audio_key, text, prompt).run_here(by=_who(by))]
    )


@app.command("queue")
def queue_cmd(
    state: Annotated[
        str | None, typer.Option(help="pending, approved, rejected, exported or failed.")
    ] = None,
) -> None:
    """List videos in the review queue, newest first."""
    from novaavatar import manifests
    from novaavatar.domain import ReviewState
    from novaavatar.errors import InputError
    from novaavatar.store import get_store

    try:
        wanted = ReviewState(state) if state else None
    except ValueError:
        choices = ", ".join(s.value for s in ReviewState)
        raise InputError(f"unknown state {state!r}: choose one of {choices}") from None
    rows = manifests.queue(get_store(), wanted)
    if not rows:
        typer.echo("the queue is empty")
    for m in rows:
        dur = f"{m.final.duration_s:5.1f}s" if m.final else "    - "
        typer.echo(f"{m.video_id}  {m.state.value:8}  {dur}  {m.item.title[:70]}")


@app.command("jobs")
def jobs_cmd(
    mine: Annotated[bool, typer.Option("--mine", help="Only jobs you started ($USER).")] = False,
    by: Annotated[str | None, typer.Option(help="Only jobs this person started.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 20,
) -> None:
    """List jobs (this project's Prefect flow runs), newest first: state, stage, duration,
    who started them, and the video or the error. Reads the server of `make up`."""
    from novaavatar.service import jobs

    if jobs.find_server() is None:
        typer.echo("no Prefect server runs (`make up` starts one): no jobs to list")
        return
    who = _who(None) if mine else by
    rows = jobs.listing(who, limit)
    if not rows:
        typer.echo("no jobs" + (f" started by {who}" if who else ""))
    for r in rows:
        took = r.seconds()
        done = ", ".join(r.video_ids) if r.ok else (r.error or r.stage or "")
        typer.echo(
            f"{r.id[:8]}  {r.state:10}  {f'{took:.0f}s' if took is not None else '-':>6}  "
            f"{(r.by or '-')[:16]:16}  {r.name[:40]:40}  {done}"
        )


VersionOpt = Annotated[
    int | None,
    typer.Option(
        help="Manifest version you saw; needed to change a decision (the refusal names it)."
    ),
]


def _who(by: str | None) -> str:
    return by or os.environ.get("USER") or "reviewer"


@app.command()
def approve(
    video_id: str,
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: $USER).")] = None,
    note: Annotated[str, typer.Option(help="Optional note.")] = "",
    expected_version: VersionOpt = None,
) -> None:
    """Approve a pending video (a rejected one with --expected-version)."""
    from novaavatar.domain import ReviewState
    from novaavatar.service import decisions
    from novaavatar.store import get_store

    m = decisions.decide(
        get_store(),
        video_id,
        ReviewState.APPROVED,
        by=_who(by),
        note=note,
        expected_version=expected_version,
        wait_for_webhook=True,
    )
    typer.echo(f"{m.video_id} approved by {m.history[-1].by}")


@app.command()
def reject(
    video_id: str,
    note: Annotated[str, typer.Option(help="Why (required).")],
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: $USER).")] = None,
    expected_version: VersionOpt = None,
) -> None:
    """Reject a video, with a note saying why (an approved one with --expected-version)."""
    from novaavatar.domain import ReviewState
    from novaavatar.service import decisions
    from novaavatar.store import get_store

    m = decisions.decide(
        get_store(),
        video_id,
        ReviewState.REJECTED,
        by=_who(by),
        note=note,
        expected_version=expected_version,
    )
    typer.echo(f"{m.video_id} rejected by {m.history[-1].by}: {note}")


@app.command()
def regenerate(
    video_id: str,
    stage: Annotated[
        list[str], typer.Option(help="script, background, speech or avatar (repeatable).")
    ],
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: $USER).")] = None,
) -> None:
    """Make a new take of some stages of a video; it goes back to pending review."""
    from novaavatar.service import production
    from novaavatar.store import get_store

    _echo_videos(
        [production.regenerate(get_store(), video_id, stage, _who(by)).run_here(by=_who(by))]
    )


@app.command()
def edit(
    video_id: str,
    text: Annotated[
        str | None,
        typer.Option(help="The new script ('Host:'/'Guest:' lines, '# Title' paragraphs)."),
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from-file", help="Read the new script from this file.")
    ] = None,
    title: Annotated[str | None, typer.Option(help="A new title.")] = None,
    hashtag: Annotated[
        list[str] | None, typer.Option(help="Hashtags/keywords (repeatable; replace them all).")
    ] = None,
    call_to_action: Annotated[
        str | None, typer.Option(help="A new description / call to action.")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: $USER).")] = None,
    show: Annotated[bool, typer.Option(help="Print the script as it is edited, and stop.")] = False,
) -> None:
    """Edit a video's script before approving it: speech, avatar, compose and quality are made
    again (not the background); the video goes back to pending with the diff in its history."""
    from novaavatar import manifests
    from novaavatar.errors import InputError
    from novaavatar.service import editing
    from novaavatar.store import get_store

    store = get_store()
    if show:
        typer.echo(editing.editable(manifests.load(store, video_id)[0]))
        return
    if text is not None and from_file is not None:
        raise InputError("give --text or --from-file, not both")
    if from_file is not None:
        try:
            text = from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"--from-file {str(from_file)!r}: cannot read it ({e})") from None
    changes = editing.ScriptChanges(
        text=text,
        title=title,
        keywords=tuple(hashtag) if hashtag else None,
        call_to_action=call_to_action,
    )
    _echo_videos([editing.edit_script(store, video_id, changes, _who(by)).run_here(by=_who(by))])
    m, _ = manifests.load(store, video_id)
    if m.history and m.history[-1].diff:
        typer.echo(m.history[-1].diff)


@app.command()
def trim(
    video_id: str,
    start: Annotated[float, typer.Option(help="Keep from this second of the full video.")] = 0.0,
    end: Annotated[
        float | None, typer.Option(help="Keep up to this second (default: the end).")
    ] = None,
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: $USER).")] = None,
) -> None:
    """Cut a video's start and end before approving it: only the final video is re-encoded
    (no re-render), captions move with the cut, quality is checked again."""
    from novaavatar.service import editing
    from novaavatar.store import get_store

    store = get_store()
    _echo_videos([editing.trim(store, video_id, start, end, _who(by)).run_here(by=_who(by))])


@app.command()
def background(
    video_id: str,
    image: Annotated[
        Path | None, typer.Option(help="An image (JPEG, PNG, WebP) to use as the background.")
    ] = None,
    prompt: Annotated[str | None, typer.Option(help="Or: what the new background shows.")] = None,
    by: Annotated[str | None, typer.Option(help="Reviewer name (default: $USER).")] = None,
) -> None:
    """Swap a video's background before approving it: background, avatar, compose and quality
    are made again (not the script or speech); the video goes back to pending."""
    from novaavatar.errors import InputError
    from novaavatar.service import editing
    from novaavatar.store import get_store

    data = None
    if image is not None:
        try:
            data = image.read_bytes()
        except OSError as e:
            raise InputError(f"--image {str(image)!r}: cannot read it ({e})") from None
    work = editing.swap_background(
        get_store(), video_id, _who(by), data, image.name if image else "background", prompt
    )
    _echo_videos([work.run_here(by=_who(by))])


@app.command()
def export(
    video_ids: Annotated[
        list[str] | None,
        typer.Argument(help="Approved (or exported, to publish again) ids; default: all approved."),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option(help="package (MP4, captions, thumbnail, per-platform metadata) or youtube."),
    ] = None,
    by: Annotated[str | None, typer.Option(help="Who publishes (default: $USER).")] = None,
) -> None:
    """Publish approved videos: a package in the store's exports/ folder, and YouTube."""
    from novaavatar import manifests
    from novaavatar.service import publishing
    from novaavatar.store import get_store

    store = get_store()
    channels = publishing.channels(channel)
    if video_ids:
        for vid in video_ids:
            with _upload_bar(vid, "youtube" in channels) as shown:
                publishing.publish(store, vid, channels, _who(by), progress=shown)
    else:
        video_ids = publishing.export(store, None, channels, _who(by)).run_here(by=_who(by))
    for vid in video_ids:
        m, _ = manifests.load(store, vid)
        yt = m.publications.get("youtube")
        where = f"  {yt.location}" if yt and yt.status == "published" else ""
        typer.echo(f"{vid}  {store.materialize(f'exports/{vid}/video.mp4')}{where}")
    if not video_ids:
        typer.echo("no approved videos to export")


@contextlib.contextmanager
def _upload_bar(video_id: str, shown: bool) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar of the bytes YouTube confirmed, opened when the upload starts."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="B", unit_scale=True, desc=f"{video_id} → YouTube"))
        bars[0].update(done - bars[0].n)

    try:
        yield update if shown else (lambda done, total: None)
    finally:
        for bar in bars:
            bar.close()


@app.command()
def review(
    port: Annotated[int, typer.Option(help="Port of the review page.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Listen address; anything but 127.0.0.1 needs REVIEW_PASSWORD.")
    ] = "127.0.0.1",
) -> None:
    """Open the Streamlit review page (approve, reject, regenerate, export)."""
    from novaavatar.errors import InputError
    from novaavatar.service.stack import review_page_command
    from novaavatar.settings import get_settings

    if address not in ("127.0.0.1", "localhost", "::1") and get_settings().review_password is None:
        raise InputError(f"--address {address} exposes the page: set REVIEW_PASSWORD first")
    typer.echo(f"review page: http://{address}:{port}")
    cmd = review_page_command(port, address)
    os.execv(cmd[0], cmd)


@app.command()
def api(
    port: Annotated[int | None, typer.Option(help="Port (default API_PORT, 8000).")] = None,
    address: Annotated[
        str, typer.Option(help="Listen address; put anything but 127.0.0.1 behind TLS.")
    ] = "127.0.0.1",
) -> None:
    """Serve the REST API for integrations (OpenAPI docs at /docs)."""
    import uvicorn

    from novaavatar.errors import InputError
    from novaavatar.settings import get_settings

    s = get_settings()
    if not s.api_tokens:
        raise InputError("the API would refuse every request: set API_TOKENS first")
    port = port or s.api_port
    typer.echo(f"REST API: http://{address}:{port}/docs")
    uvicorn.run("api.app:create_app", factory=True, host=address, port=port, server_header=False)


@app.command()
def doctor() -> None:
    """Check this install (ffmpeg, eSpeak, store, Prefect API, keys, models, GPU)."""
    from novaavatar.doctor import run_checks
    from novaavatar.settings import get_settings

    checks = run_checks(get_settings())
    for c in checks:
        mark = "ok  " if c.ok else ("FAIL" if c.essential else "warn")
        typer.echo(f"{mark}  {c.name:22} {c.detail}")
        if c.fix and not c.ok:
            typer.echo(f"      fix: {c.fix}")
    broken = [c for c in checks if c.essential and not c.ok]
    if broken:
        typer.echo(f"\n{len(broken)} problem(s) need fixing", err=True)
        raise typer.Exit(1)
    typer.echo("\neverything needed works")


@app.command()
def stats(
    days: Annotated[int, typer.Option(help="How many days back.")] = 7,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Usage figures: videos per day and state, stage times (p50/p95), providers, cost, and
    the A/B takes' win rates per style and hook."""
    from novaavatar import manifests
    from novaavatar.stats import usage
    from novaavatar.store import get_store

    u = usage(manifests.all_manifests(get_store()), days=days)
    if as_json:
        typer.echo(json.dumps(u.as_dict(), indent=2))
        return
    states = ["pending", "approved", "rejected", "exported", "failed"]
    typer.echo("day          " + " ".join(f"{st:>9}" for st in states))
    for day, counts in u.days.items():
        typer.echo(f"{day}   " + " ".join(f"{counts.get(st, 0):9d}" for st in states))
    typer.echo(f"\nneeds attention: {u.needs_attention}   cost so far: ${u.cost_usd:.2f}")
    typer.echo("\nstage         p50 s    p95 s   runs")
    for name, (p50, p95, n) in u.stage_seconds.items():
        typer.echo(f"{name:12} {p50:6.2f}   {p95:6.2f}   {n:4d}")
    if u.providers:
        typer.echo("\nproviders: " + ", ".join(f"{k} ×{v}" for k, v in sorted(u.providers.items())))
    if u.failures:
        typer.echo("failures: " + ", ".join(f"{k} ×{v}" for k, v in u.failures.items()))
    if u.variant_groups:
        typer.echo(f"\nA/B groups: {u.variant_groups}, a take chosen in {u.variant_decided}")
        for title, table in (("style", u.style_wins), ("hook", u.hook_wins)):
            typer.echo(f"{title:14} wins  takes  win rate")
            for name, w in sorted(table.items(), key=lambda kv: -kv[1].rate):
                typer.echo(f"{name:14} {w.wins:4d}  {w.takes:5d}  {w.rate:7.0%}")


templates_app = typer.Typer(
    help="Brand templates: logo, colours, lower third, intro/outro cards.", no_args_is_help=True
)
app.add_typer(templates_app, name="templates")


@templates_app.command("list")
def templates_list() -> None:
    """Every template version, shipped (templates/) and uploaded (the store)."""
    from novaavatar import templates
    from novaavatar.store import get_store

    store = get_store()
    shipped = templates.shipped()
    for ref, t in templates.available(store).items():
        where = "shipped" if ref in shipped else "store"
        typer.echo(f"{ref:20} {where:8} {t.layout or '-':7} {t.description}")


@templates_app.command("show")
def templates_show(
    name: Annotated[str, typer.Argument(help="name or name@version (default: newest).")],
) -> None:
    """Print a template as TOML."""
    from novaavatar import templates
    from novaavatar.store import get_store

    typer.echo(templates.to_toml(templates.resolve(name, get_store())), nl=False)


@templates_app.command("preview")
def templates_preview(
    name: Annotated[str, typer.Argument(help="name or name@version (default: newest).")],
    out: Annotated[Path, typer.Option(help="Output .png: a presenter frame and the intro card.")],
    aspect: AspectOpt = "9:16",
) -> None:
    """Render a preview of a template: a sample presenter frame and its intro card."""
    from novaavatar import templates
    from novaavatar.store import get_store
    from tasks.compose.preview import preview_image

    img = preview_image(templates.resolve(name, get_store()), aspect)
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    typer.echo(f"{out}  {img.width}x{img.height}")


@templates_app.command("add")
def templates_add(
    path: Annotated[Path, typer.Argument(help="A template .toml/.yaml file with a new version.")],
    i_have_consent: Annotated[
        bool,
        typer.Option(
            "--i-have-consent",
            help="The template names a portrait: attest the right to use that likeness.",
        ),
    ] = False,
    by: Annotated[
        str | None, typer.Option(help="Who attests the consent (default: $USER).")
    ] = None,
) -> None:
    """Validate a template file and store it as a new version (versions never change)."""
    from novaavatar import templates
    from novaavatar.errors import InputError
    from novaavatar.store import get_store

    if not path.is_file():
        raise InputError(f"template file {path} does not exist")
    t = templates.save(
        get_store(), path.read_bytes(), path.name, consent_by=_who(by) if i_have_consent else None
    )
    typer.echo(f"stored {t.ref}")


presenter_app = typer.Typer(
    help="Presenter profiles: a portrait (with its likeness consent), a voice and a layout.",
    no_args_is_help=True,
)
app.add_typer(presenter_app, name="presenter")


@presenter_app.command("list")
def presenter_list() -> None:
    """Every presenter's newest version: layout, voice, and whose consent covers the face."""
    from novaavatar.service import presenters
    from novaavatar.store import get_store

    shown = presenters.listing(get_store())
    if not shown:
        typer.echo("no presenters yet: novaavatar presenter add NAME --portrait PHOTO ...")
    for p in shown:
        when = p.consent.at.strftime("%Y-%m-%d")
        typer.echo(
            f"{p.ref:24} {p.layout:7} {p.voice.describe():40} consent: {p.consent.by} ({when})"
        )


@presenter_app.command("show")
def presenter_show(
    ref: Annotated[str, typer.Argument(help="name or name@version (default: newest).")],
) -> None:
    """Print one presenter version as JSON (portrait key, consent record, voice, layout)."""
    from novaavatar.service import presenters
    from novaavatar.store import get_store

    typer.echo(presenters.show(get_store(), ref).model_dump_json(indent=2))


@presenter_app.command("add")
def presenter_add(
    name: Annotated[str, typer.Argument(help="lowercase name, e.g. anna or night-desk.")],
    portrait: Annotated[
        Path | None,
        typer.Option(help="Presenter photo (JPEG, PNG, WebP); a new version may keep the last."),
    ] = None,
    i_have_consent: ConsentOpt = False,
    by: Annotated[
        str | None, typer.Option(help="Who saves it and attests the consent (default: $USER).")
    ] = None,
    voice_kind: Annotated[
        str | None,
        typer.Option(help="espeak, openai or dia (a clip to clone); default: the last version's."),
    ] = None,
    voice: Annotated[
        str | None,
        typer.Option(help="eSpeak voice (en-gb, en-us+f3) or OpenAI voice (nova, onyx...)."),
    ] = None,
    fallback_voice: Annotated[
        str | None,
        typer.Option(help="openai/dia: the eSpeak voice when that provider is not set up."),
    ] = None,
    clip: Annotated[
        Path | None, typer.Option(help="dia: 5–15 s of the voice to clone (any audio format).")
    ] = None,
    clip_text: Annotated[str, typer.Option(help="dia: the words the clip says.")] = "",
    layout: Annotated[
        str | None, typer.Option(help="studio, pip or full; default: the last version's.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="A line about the presenter.")] = None,
) -> None:
    """Store a new version of a presenter (the first needs --portrait and --i-have-consent)."""
    from novaavatar.errors import InputError
    from novaavatar.service import presenters
    from novaavatar.store import get_store

    files = {}
    for path, what in ((portrait, "portrait"), (clip, "clip")):
        if path is not None:
            if not path.is_file():
                raise InputError(f"{what} {path} does not exist")
            files[what] = presenters.Upload(path.read_bytes(), str(path))
    p = presenters.save_version(
        get_store(),
        name,
        by=_who(by),
        via="cli",
        portrait=files.get("portrait"),
        i_have_consent=i_have_consent,
        voice_kind=voice_kind,
        voice=voice,
        fallback_voice=fallback_voice,
        clip=files.get("clip"),
        clip_text=clip_text,
        layout=layout,
        description=description,
    )
    typer.echo(f"stored {p.ref}  {p.layout}  {p.voice.describe()}")


store_app = typer.Typer(help="The artifact store: local folder or S3/MinIO.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("sync")
def store_sync(
    to: Annotated[str, typer.Option(help="s3: local store → S3; local: S3 → local store.")],
    prefix: Annotated[str, typer.Option(help="Only keys under this folder, e.g. videos.")] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be copied.")
    ] = False,
) -> None:
    """Copy the local store to S3/MinIO or back; a rerun skips objects already copied."""
    from tqdm import tqdm

    from novaavatar.errors import InputError
    from novaavatar.store import store_of_kind
    from novaavatar.store_sync import sync

    if to not in ("s3", "local"):
        raise InputError(f"--to {to!r}: choose s3 (local → S3) or local (S3 → local)")
    src = store_of_kind("local" if to == "s3" else "s3")
    dst = store_of_kind("s3" if to == "s3" else "local")
    with tqdm(total=len(src.list(prefix)), unit="obj", disable=None) as bar:
        report = sync(src, dst, prefix, dry_run=dry_run, on_key=lambda _k, _c: bar.update())
    verb = "would copy" if dry_run else "copied"
    for key in report.copied if dry_run else []:
        typer.echo(key)
    typer.echo(
        f"{verb} {len(report.copied)} objects ({report.bytes_copied / 1e6:.1f} MB) "
        f"from {src.uri} to {dst.uri}; {len(report.skipped)} already there"
    )


def main() -> None:
    _prefect_defaults()
    try:
        from novaavatar.logs import configure_logging
        from novaavatar.settings import get_settings

        configure_logging(get_settings(), component="cli")
        with _prefect_api(sys.argv[1:]):
            app()
    except NovaAvatarError as e:
        typer.echo(f"error: {e}", err=True)
        sys.exit(1)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        msg = str(first["msg"]).removeprefix("Value error, ")
        typer.echo(
            f"error: {where}={first.get('input')!r}: {msg}" if where else f"error: {msg}", err=True
        )
        sys.exit(1)
    except Exception as e:  # a failed flow run surfaces its cause; keep it to one line
        typer.echo(f"error: {type(e).__name__}: {e}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
