"""Lite presenter + compose against an equivalent moviepy composition, on the same 30 s input.

(a) this project, ``lite``: ``render_lite(words=..., title=...)`` draws the lip-synced presenter
    with captions (spoken word highlighted) and title in one encode, then ``compose_final(...,
    burn_captions=False)`` adds the loudness-normalised speech; ``lite 2-st``: the two-stage path
    (avatar with an intermediate encode, then compose decodes, burns captions, encodes again);
(b) moviepy: background image + presenter image overlay + one TextClip per caption + the same
    speech, written with the same codec settings (libx264 veryfast, CRF 23, AAC).

``--photo``: the photo presenter (a portrait animated through its face mesh, see
tasks/render/photo.py) on 30 s of speech at 720×1280, against ffmpeg encoding the same
number of ready frames alone (the renderer's own frames, prepared before the clock starts,
same codec settings and audio): both times, their ratio, and each as a share of the video's
duration. Targets: the whole render ≤ 0.2 of the duration and ≤ 1.5 × encode-alone.

Both run in this process, alternating, several times; the medians are printed: frames/s, render
time / video duration (the real-time factor, < 1 is faster than real time) and the ratio of
moviepy's time to each; the same for CPU seconds (this process and its ffmpeg children), which
other work on a busy machine does not inflate. Run with `python bench/bench_render.py`
(`--help` for options).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from novaavatar.domain import WordTiming
from novaavatar.media import FrameWriter, measure_loudness, probe, read_audio, rgb_to_i420
from tasks.avatar.lite import IllustratedPresenter, lite_frames, render_lite
from tasks.background import procedural_background
from tasks.compose.captions import build_captions
from tasks.compose.text import _font_path
from tasks.compose.video import CaptionPainter, compose_final
from tasks.speech import EspeakProvider

TEXT = (
    "Good evening. The city council voted on Tuesday to expand the river park, adding two miles "
    "of walking paths and a new bridge for cyclists. Supporters say the plan will bring families "
    "back to the waterfront, while critics worry about the cost, which could reach forty million "
    "dollars over five years. The mayor promised that work will begin next spring and that local "
    "businesses will be consulted at every step. Meanwhile, forecasters expect a warm and sunny "
    "weekend, perfect for a first look at the riverside."
)
TITLE = "City council expands the river park"
FPS = 25


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (ffmpeg)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def presenter_still(size: tuple[int, int]) -> np.ndarray:
    """The lite presenter at rest over a transparent background, as an RGBA image for moviepy."""
    w, h = size
    p = IllustratedPresenter(size)
    rest = (0, 2, 0, 0)
    black = p.frame(p.compose_base(np.zeros((h, w, 3), np.uint8)), rest, 0, np.zeros(3))
    white = p.frame(p.compose_base(np.full((h, w, 3), 255, np.uint8)), rest, 0, np.zeros(3))
    alpha = 255 - (white.astype(np.int16) - black.astype(np.int16)).max(axis=2)
    premult = black.astype(np.int32)  # over black, a premultiplied colour
    colour = np.where(alpha[..., None] > 0, premult * 255 // np.maximum(alpha[..., None], 1), 0)
    return np.dstack([colour.clip(0, 255), alpha.clip(0, 255)]).astype(np.uint8)


def run_ours(
    bg: Path, speech: Path, timings: tuple, out: Path, size: tuple[int, int], *, fused: bool
) -> tuple[float, float]:
    words, phonemes = timings
    t0, c0 = time.perf_counter(), _cpu()
    avatar = out.with_name("avatar.mp4")
    if fused:  # captions burnt in while rendering: one encode, compose only adds the speech
        render_lite(
            bg,
            speech,
            phonemes,
            avatar,
            size=size,
            fps=FPS,
            crf=23,
            preset="veryfast",
            words=words,
            title=TITLE,
        )
        compose_final(avatar, speech, words, out, burn_captions=False)
    else:  # two stages, an intermediate encode between them
        render_lite(bg, speech, phonemes, avatar, size=size, fps=FPS, crf=18, preset="ultrafast")
        compose_final(avatar, speech, words, out, title=TITLE, crf=23, preset="veryfast")
    return time.perf_counter() - t0, _cpu() - c0


def run_moviepy(
    bg: Path,
    speech: Path,
    words: list[WordTiming],
    still: np.ndarray,
    out: Path,
    size: tuple[int, int],
) -> tuple[float, float]:
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, TextClip

    w, h = size
    t0, c0 = time.perf_counter(), _cpu()
    audio = AudioFileClip(str(speech))
    duration = audio.duration
    painter = CaptionPainter(w, h)
    clips = [
        ImageClip(str(bg)).with_duration(duration),
        ImageClip(still[..., :3], transparent=False)
        .with_mask(ImageClip(still[..., 3] / 255.0, is_mask=True).with_duration(duration))
        .with_duration(duration),
    ]
    font = _font_path()
    for cap in build_captions(words):
        text = TextClip(
            font=font,
            text=cap.text,
            font_size=painter.base_size,
            color="white",
            stroke_color="black",
            stroke_width=2,
            method="caption",
            size=(int(painter.max_text_w), None),
            bg_color=(10, 12, 20),
        )
        clips.append(
            text.with_start(cap.start)
            .with_duration(cap.end - cap.start)
            .with_position(("center", int(0.8 * h)))
        )
    title = TextClip(
        font=font,
        text=TITLE,
        font_size=int(min(w, h) * 0.042),
        color="white",
        bg_color=(10, 12, 20),
    )
    clips.append(title.with_duration(duration).with_position((int(0.06 * w), int(0.045 * h))))
    video = CompositeVideoClip(clips, size=size).with_audio(audio).with_duration(duration)
    video.write_videofile(
        str(out),
        fps=FPS,
        codec="libx264",
        preset="veryfast",
        audio_codec="aac",
        ffmpeg_params=["-crf", "23", "-pix_fmt", "yuv420p"],
        logger=None,
        temp_audiofile=str(out.with_name("moviepy-audio.m4a")),  # not into the working directory
    )
    video.close()
    audio.close()
    return time.perf_counter() - t0, _cpu() - c0


def bench_scenes(size: tuple[int, int], runs: int, transition: str) -> None:
    """A 60 s explainer in 3 scenes (two transitions, title cards) against the same 60 s with
    one background: ``render_lite`` alone, captions and title burnt in, medians and ratio."""
    from tasks.avatar.scenes import SceneBackground

    work = Path(tempfile.mkdtemp(prefix="nova-bench-scenes-"))
    speech = work / "speech.wav"
    said = EspeakProvider().speak(" ".join([TEXT] * 2), "en-us", 165, speech)
    duration = said.duration_s
    bgs = []
    for i in range(3):
        bgs.append(work / f"bg{i}.png")
        procedural_background(7 + i, size).save(bgs[-1])
    scenes = [SceneBackground(b, duration * i / 3, f"Part {i + 1}") for i, b in enumerate(bgs)]
    times: dict[str, list[tuple[float, float]]] = {"1 scene": [], "3 scenes": []}
    for run in range(runs):
        for name, sc in (("1 scene", None), ("3 scenes", scenes)):
            t0, c0 = time.perf_counter(), _cpu()
            render_lite(
                bgs[0],
                speech,
                said.phonemes,
                work / f"{run}-{len(sc or [])}.mp4",
                size=size,
                fps=FPS,
                words=said.words,
                title=TITLE,
                scenes=sc,
                transition=transition,
            )
            times[name].append((time.perf_counter() - t0, _cpu() - c0))
    print(f"explainer {size[0]}x{size[1]}, {duration:.1f} s, {transition}, median of {runs}:")
    med = {}
    for name, v in times.items():
        med[name] = (statistics.median(t for t, _ in v), statistics.median(c for _, c in v))
        t, c = med[name]
        print(f"  {name:8} {t:6.2f} s wall ({t / duration:.3f} of real time), {c:6.2f} s CPU")
    (t1, c1), (t3, c3) = med["1 scene"], med["3 scenes"]
    print(f"  3 scenes / 1 scene: wall {t3 / t1:.3f}, CPU {c3 / c1:.3f}")


def bench_template(size: tuple[int, int], runs: int, name: str) -> None:
    """About 20 s of speech rendered and composed (the fused path) with and without a brand
    template (logo, lower third, colours, intro and outro cards): medians and their ratio."""
    from novaavatar import templates
    from novaavatar.domain import ContentItem

    work = Path(tempfile.mkdtemp(prefix="nova-bench-template-"))
    speech = work / "speech.wav"
    said = EspeakProvider().speak(TEXT.split(" The mayor")[0], "en-us", 150, speech)
    duration = said.duration_s
    bg = work / "bg.png"
    procedural_background(7, size).save(bg)
    item = ContentItem.make(title=TITLE, url="https://example.org/park", source="BBC News")
    brand = templates.brand_for(item, templates.build_options(dict(template=name)))
    times: dict[str, list[float]] = {"plain": [], name: []}
    cpus: dict[str, list[float]] = {"plain": [], name: []}
    lengths: dict[str, float] = {}
    for run in range(runs):
        for label, b in (("plain", None), (name, brand)):
            avatar, out = work / f"{label}-{run}-avatar.mp4", work / f"{label}-{run}.mp4"
            t0, c0 = time.perf_counter(), _cpu()
            render_lite(
                bg,
                speech,
                said.phonemes,
                avatar,
                size=size,
                fps=FPS,
                words=said.words,
                title=TITLE,
                brand=b,
            )
            info = compose_final(avatar, speech, said.words, out, burn_captions=False, brand=b)
            times[label].append(time.perf_counter() - t0)
            cpus[label].append(_cpu() - c0)
            lengths[label] = info.duration_s
    plain, branded = (statistics.median(times[k]) for k in ("plain", name))
    cpu_plain, cpu_branded = (statistics.median(cpus[k]) for k in ("plain", name))
    print(f"template {name}, {size[0]}x{size[1]}, {duration:.1f} s of speech, median of {runs}:")
    print(
        f"  plain       {plain:6.2f} s ({cpu_plain:6.2f} CPU s) "
        f"for {lengths['plain']:.1f} s of video"
    )
    print(
        f"  {name:11} {branded:6.2f} s ({cpu_branded:6.2f} CPU s) "
        f"for {lengths[name]:.1f} s of video (with the cards)"
    )
    print(
        f"  {name} / plain = {branded / plain:.3f} wall, {cpu_branded / cpu_plain:.3f} CPU "
        "(per second of video: "
        f"{cpu_branded / lengths[name] / (cpu_plain / lengths['plain']):.3f} CPU)"
    )


def bench_photo(size: tuple[int, int], runs: int, layout: str) -> None:
    """A photo presenter render of ~30 s against encoding as many ready frames: medians, ratio."""
    import itertools

    from PIL import Image
    from skimage import data

    work = Path(tempfile.mkdtemp(prefix="nova-bench-photo-"))
    speech = work / "speech.wav"
    said = EspeakProvider().speak(TEXT, "en-us", 165, speech)
    duration = said.duration_s
    photo = work / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)  # NASA portrait in scikit-image, public domain
    bg = work / "bg.png"
    procedural_background(7, size).save(bg)
    n = round(duration * FPS)
    # the renderer's first two seconds of frames, as I420, cycled for the encode-alone run
    ready = [
        rgb_to_i420(f)
        for f in itertools.islice(
            lite_frames(
                bg, said.phonemes, duration, size=size, fps=FPS, portrait=photo, layout=layout
            ),
            2 * FPS,
        )
    ]
    render: list[tuple[float, float]] = []
    encode: list[tuple[float, float]] = []
    for run in range(runs):
        t0, c0 = time.perf_counter(), _cpu()
        render_lite(
            bg,
            speech,
            said.phonemes,
            work / f"photo-{run}.mp4",
            size=size,
            fps=FPS,
            portrait=photo,
            layout=layout,
        )
        render.append((time.perf_counter() - t0, _cpu() - c0))
        t0, c0 = time.perf_counter(), _cpu()
        with FrameWriter(
            work / f"encode-{run}.mp4", size, FPS, audio=speech, crf=23, preset="veryfast"
        ) as writer:
            for i in range(n):
                writer.write_i420(ready[i % len(ready)])
        encode.append((time.perf_counter() - t0, _cpu() - c0))
    (rt, rc), (et, ec) = (
        (statistics.median(t for t, _ in v), statistics.median(c for _, c in v))
        for v in (render, encode)
    )
    print(
        f"photo presenter, {layout} layout, {size[0]}x{size[1]}, "
        f"{duration:.1f} s of speech ({n} frames), median of {runs}:"
    )
    print(
        f"  whole render   {rt:6.2f} s wall ({rt / duration:.3f} of the duration), {rc:6.2f} s CPU"
    )
    print(
        f"  encode alone   {et:6.2f} s wall ({et / duration:.3f} of the duration), {ec:6.2f} s CPU"
    )
    print(
        f"  render / encode-alone: {rt / et:.2f} wall, {rc / ec:.2f} CPU  "
        "(targets: ≤ 0.2 of the duration, ≤ 1.5 × encode)"
    )
    # each run's render is followed by its encode: their ratio, pair by pair, is steadier on
    # a shared machine whose load drifts between runs
    pairs = [r[0] / e[0] for r, e in zip(render, encode, strict=True)]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"  paired render / encode-alone (wall): median {statistics.median(pairs):.2f}, "
        f"min {min(pairs):.2f}, max {max(pairs):.2f}; load average {load:.1f} "
        f"on {os.cpu_count()} cores"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3, help="timed runs per renderer and size (median)")
    ap.add_argument("--sizes", default="720x1280,1080x1920")
    ap.add_argument("--no-moviepy", action="store_true", help="time only this renderer")
    ap.add_argument("--explainer", action="store_true", help="instead: 60 s in 3 scenes vs 1")
    ap.add_argument(
        "--transition", default="crossfade", help="with --explainer: crossfade|wipe|cut"
    )
    ap.add_argument(
        "--template", default="", help="instead: ~20 s with this brand template vs none"
    )
    ap.add_argument(
        "--photo", action="store_true", help="instead: the photo presenter vs encoding alone"
    )
    ap.add_argument("--layout", default="full", help="with --photo: studio|pip|full")
    args = ap.parse_args()
    if args.photo:
        for spec in (args.sizes if args.sizes != "720x1280,1080x1920" else "720x1280").split(","):
            w, h = (int(v) for v in spec.split("x"))
            bench_photo((w, h), args.runs, args.layout)
        return
    if args.template:
        for spec in args.sizes.split(","):
            w, h = (int(v) for v in spec.split("x"))
            bench_template((w, h), args.runs, args.template)
        return
    if args.explainer:
        for spec in args.sizes.split(","):
            w, h = (int(v) for v in spec.split("x"))
            bench_scenes((w, h), args.runs, args.transition)
        return

    work = Path(tempfile.mkdtemp(prefix="nova-bench-render-"))
    speech = work / "speech.wav"
    said = EspeakProvider().speak(TEXT, "en-us", 165, speech)
    timings = (list(said.words), list(said.phonemes))
    duration = said.duration_s
    print(
        f"input: {duration:.1f} s of speech, {len(said.words)} words, {FPS} fps; "
        f"{args.runs} run(s) each, medians"
    )
    print(
        f"{'size':>10} {'renderer':>9} {'seconds':>8} {'frames/s':>9} {'time/video':>11} "
        f"{'moviepy/this':>13} {'cpu/video':>9} {'moviepy/this cpu':>9}"
    )
    for spec in args.sizes.split(","):
        w, h = (int(v) for v in spec.split("x"))
        size = (w, h)
        bg = work / f"bg-{w}x{h}.png"
        procedural_background(7, size).save(bg)
        still = presenter_still(size)
        runs: dict[str, list[tuple[float, float]]] = {"lite": [], "lite 2-st": [], "moviepy": []}
        for run in range(args.runs):
            runs["lite"].append(
                run_ours(bg, speech, timings, work / f"ours-{run}.mp4", size, fused=True)
            )
            runs["lite 2-st"].append(
                run_ours(bg, speech, timings, work / f"two-{run}.mp4", size, fused=False)
            )
            if not args.no_moviepy:
                runs["moviepy"].append(
                    run_moviepy(bg, speech, timings[0], still, work / f"moviepy-{run}.mp4", size)
                )
        frames = round(duration * FPS)
        med = {
            k: (statistics.median(t for t, _ in v), statistics.median(c for _, c in v))
            for k, v in runs.items()
            if v
        }
        base = med.get("moviepy", (float("nan"), float("nan")))
        for name, (t, cpu) in med.items():
            print(
                f"{spec:>10} {name:>9} {t:8.2f} {frames / t:9.1f} {t / duration:11.3f} "
                f"{base[0] / t:13.2f} {cpu / duration:9.3f} {base[1] / cpu:9.2f}"
            )
        final = work / "ours-0.mp4"
        loud = measure_loudness(read_audio(final, 48000), 48000)
        info = probe(final)
        print(
            f"{'':>10} final {info.width}x{info.height} {info.duration_s:.2f} s, "
            f"{loud.integrated_lufs:.1f} LUFS, true peak {loud.true_peak_dbtp:.1f} dBTP"
        )


if __name__ == "__main__":
    main()
