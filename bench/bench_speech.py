"""Speech benchmark: real-time factor of each backend on this machine, and alignment error.

    .venv/bin/python bench/bench_speech.py [--repeats 3] [--json out.json]

RTF = synthesis seconds / audio seconds (lower is faster; < 1 is faster than real time).
- eSpeak NG: the offline default, in process.
- OpenAI TTS: the real SDK against the loopback fake (so: client + decode + alignment
  overhead, not OpenAI's servers).
- Dia: a TINY random model (1-layer, width 32) built here, loaded through the real code:
  it measures the pipeline's overhead, not the published 1.6B model's speed.
Alignment: eSpeak speech where the true word boundaries are known, re-aligned from audio;
mean absolute boundary error, median and p90 over every word boundary, in ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

TEXT = (
    "Good evening. Scientists have announced new results from a long study of ocean "
    "temperatures. City leaders met to discuss plans for cleaner public transport."
)
ALIGN_TEXTS = (
    "Good evening. Scientists announced new results from the ocean survey today.",
    "City leaders met on Tuesday to discuss plans for cleaner public transport "
    "over the next ten years.",
    "The central bank kept interest rates unchanged, citing steady growth and easing inflation.",
    "Firefighters brought the blaze under control overnight, and no one was hurt.",
)


def _rtf(speak, repeats: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    speak()  # warm-up: imports, model load, caches
    rtfs, durations = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        seconds = speak()
        rtfs.append((time.perf_counter() - t0) / seconds)
        durations.append(seconds)
    return {"rtf": statistics.median(rtfs), "audio_s": statistics.median(durations)}


def bench_backends(repeats: int) -> dict[str, dict[str, float]]:
    from fakes_tts import KEY, fake_openai_tts
    from test_speech_dia import build_tiny_dia

    from tasks.speech import EspeakProvider
    from tasks.speech.dia import DiaOptions, DiaProvider
    from tasks.speech.openai_tts import OpenAITTSOptions, OpenAITTSProvider

    out: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        out["espeak-ng"] = _rtf(
            lambda: EspeakProvider().speak(TEXT, "en-us", 165, wav).duration_s, repeats
        )
        with fake_openai_tts() as fake:
            p = OpenAITTSProvider(OpenAITTSOptions(api_key=KEY, base_url=fake.url))
            out["openai-tts (loopback fake)"] = _rtf(
                lambda: p.speak(TEXT, "en-us", 165, wav).duration_s, repeats
            )
        import torch

        ckpt = build_tiny_dia(Path(tmp) / "dia")
        dia = DiaProvider(DiaOptions(model_path=ckpt, device="cpu", max_new_tokens=3072))
        threads = torch.get_num_threads()
        for n in sorted({1, threads}):
            torch.set_num_threads(n)
            # more threads only contend on a model this small: one timed run is enough there
            timing = _rtf(
                lambda: dia.speak(TEXT, "en-us", 165, wav).duration_s, repeats if n == 1 else 1
            )
            t0 = time.perf_counter()
            speech = dia.synthesize(TEXT)
            timing["tokens_per_s"] = speech.tokens / (time.perf_counter() - t0)
            out[f"dia TINY random model, cpu, {n} thread(s)"] = timing
        torch.set_num_threads(threads)
    return out


def bench_alignment() -> dict[str, dict[str, float]]:
    from tasks.speech import audio, espeak
    from tasks.speech.align import align, boundary_errors

    sr = 16000

    def speech(text: str, **kw: object) -> tuple[np.ndarray, list]:
        s = espeak.synthesize(text, **kw)  # type: ignore[arg-type]
        return soxr.resample(s.samples, s.sample_rate, sr).astype(np.float32), s.words

    errors: dict[str, list[float]] = {}
    seconds, calls = 0.0, 0
    for text in ALIGN_TEXTS:
        base, words = speech(text)
        rng = np.random.default_rng(0)
        cases = {
            "other rate (130 wpm)": speech(text, rate_wpm=130),
            "other rate (220 wpm)": speech(text, rate_wpm=220),
            "other voice (en-us+f3)": speech(text, voice="en-us+f3"),
            "other accent (en-gb-x-rp)": speech(text, voice="en-gb-x-rp"),
            "stretched x0.8": (
                audio.change_speed(base, sr, 0.8),
                [(w, a / 0.8, b / 0.8) for w, a, b in words],
            ),
            "stretched x1.25": (
                audio.change_speed(base, sr, 1.25),
                [(w, a / 1.25, b / 1.25) for w, a, b in words],
            ),
            "padded 0.7 s + 0.5 s silence": (
                np.concatenate([np.zeros(int(0.7 * sr)), base, np.zeros(int(0.5 * sr))]),
                [(w, a + 0.7, b + 0.7) for w, a, b in words],
            ),
            "noise at 20 dB SNR": (
                base + rng.normal(0, np.sqrt(np.mean(base**2)) / 10, base.size),
                words,
            ),
        }
        f3, f3_words = speech(text, voice="en-us+f3", rate_wpm=140)
        cases["f3 voice, 140 wpm, x1.2, padded"] = (
            np.concatenate([np.zeros(int(0.5 * sr)), audio.change_speed(f3, sr, 1.2)]),
            [(w, a / 1.2 + 0.5, b / 1.2 + 0.5) for w, a, b in f3_words],
        )
        for name, (samples, truth) in cases.items():
            if len(truth) != len(text.split()):
                continue  # eSpeak merged words differently in this voice: no 1:1 truth
            t0 = time.perf_counter()
            result = align(text, samples.astype(np.float32), sr)
            seconds += time.perf_counter() - t0
            calls += 1
            errors.setdefault(name, []).extend(boundary_errors(truth, result.words) * 1000)
    summary = {
        name: {
            "mean_ms": float(np.mean(v)),
            "median_ms": float(np.median(v)),
            "p90_ms": float(np.percentile(v, 90)),
            "n": len(v),
        }
        for name, v in errors.items()
    }
    every = np.concatenate([np.array(v) for v in errors.values()])
    summary["ALL"] = {
        "mean_ms": float(every.mean()),
        "median_ms": float(np.median(every)),
        "p90_ms": float(np.percentile(every, 90)),
        "n": int(every.size),
        "align_s_per_call": seconds / calls,
    }
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--skip-backends", action="store_true")
    args = ap.parse_args()
    report: dict[str, object] = {}
    if not args.skip_backends:
        backends = bench_backends(args.repeats)
        report["backends"] = backends
        print(f"{'backend':48} {'RTF':>8} {'audio s':>8} {'tok/s':>8}")
        for name, r in backends.items():
            tps = f"{r['tokens_per_s']:8.0f}" if "tokens_per_s" in r else f"{'':8}"
            print(f"{name:48} {r['rtf']:8.4f} {r['audio_s']:8.2f} {tps}")
    alignment = bench_alignment()
    report["alignment"] = alignment
    print(f"\n{'alignment case':36} {'mean ms':>8} {'median':>8} {'p90':>8} {'n':>5}")
    for name, r in alignment.items():
        print(f"{name:36} {r['mean_ms']:8.1f} {r['median_ms']:8.1f} {r['p90_ms']:8.1f} {r['n']:5}")
    print(f"alignment takes {alignment['ALL']['align_s_per_call'] * 1000:.0f} ms per call here")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
