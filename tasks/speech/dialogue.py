"""Conversation speech: the host's and the guest's turns in two voices, as one track.

Every provider speaks turn by turn in the speaker's voice; the turns are trimmed, levelled
to one loudness and joined with short pauses, and their word and phoneme timings are
shifted into track time. Dia instead speaks the whole conversation in one go with its own
speaker tags (``[S1]`` host, ``[S2]`` guest), so the two voices stay consistent; the turn
boundaries then come from aligning the words onto its audio.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from novaavatar.domain import (
    SPEECH_SAMPLE_RATE,
    PhonemeTiming,
    ScriptTurn,
    Speaker,
    SpeechSegment,
    WordTiming,
)
from novaavatar.errors import InputError, ProviderError
from tasks.speech.audio import (
    native_wav_path,
    normalize_loudness,
    split_sentences,
    trim_silence,
)
from tasks.speech.output import SpeechOutput, SpeechProvider, write_wav_16k

TURN_GAP_S = 0.35  # a breath between speakers; a question gets answered a little faster
ANSWER_GAP_S = 0.25
DIA_TAGS: dict[Speaker, str] = {"host": "[S1]", "guest": "[S2]"}


@dataclass(frozen=True)
class DialogueSpeech(SpeechOutput):
    """Speech of a conversation: one track plus who speaks when."""

    segments: tuple[SpeechSegment, ...] = ()
    voices: tuple[str, str] = ("", "")  # (host, guest) as the provider named them


def guest_voice_for(host_voice: str, guest_voice: str | None = None) -> str:
    """The guest's voice: the one chosen, else the host's language in a contrasting variant
    (eSpeak ``+f3`` beside a male host, ``+m3`` beside a female one; for OpenAI TTS a
    variant also maps to another voice)."""
    if guest_voice:
        return guest_voice
    base, _, variant = host_voice.partition("+")
    return f"{base}+m3" if variant.startswith("f") else f"{base}+f3"


def _gap(prev: Speaker) -> float:
    return ANSWER_GAP_S if prev == "host" else TURN_GAP_S


def speak_dialogue(
    provider: SpeechProvider,
    turns: tuple[ScriptTurn, ...],
    host_voice: str,
    guest_voice: str,
    speed: int,
    out_wav: Path,
) -> DialogueSpeech:
    """Speak ``turns`` with ``provider`` into ``out_wav`` (16 kHz mono), with timings and
    one :class:`SpeechSegment` per turn."""
    if not turns:
        raise InputError("a conversation needs turns to speak: the script has none")
    if getattr(provider, "name", "") == "dia":
        return _speak_dia(provider, turns, host_voice, speed, out_wav)
    voices: dict[Speaker, str] = {"host": host_voice, "guest": guest_voice}
    pieces: list[np.ndarray] = []
    natives: list[tuple[np.ndarray, int]] = []
    timed: list[tuple[Speaker, SpeechOutput, float, float]] = []  # speaker, output, cut, length
    said: dict[Speaker, str] = {}
    with tempfile.TemporaryDirectory(prefix="dialogue-") as tmp:
        for i, turn in enumerate(turns):
            wav = Path(tmp) / f"turn{i:02d}.wav"
            spoken = provider.speak(turn.text, voices[turn.speaker], speed, wav)
            said.setdefault(turn.speaker, spoken.voice)
            samples, _ = sf.read(wav, dtype="float32")
            cut = trim_silence(samples, SPEECH_SAMPLE_RATE, keep_s=0.06)
            if cut.samples.size == 0:
                raise ProviderError(f"{provider.name} spoke silence for turn {i + 1}")
            # one loudness for both voices: neither presenter sounds nearer than the other
            levelled = normalize_loudness(cut.samples, SPEECH_SAMPLE_RATE)
            gain = float(np.max(np.abs(levelled)) / max(float(np.max(np.abs(cut.samples))), 1e-9))
            pieces.append(levelled)
            length = levelled.size / SPEECH_SAMPLE_RATE
            timed.append((turn.speaker, spoken, cut.offset_s, length))
            native = native_wav_path(wav)
            if native.is_file():  # Dia's / OpenAI's own rate, cut and levelled the same way
                nat, rate = sf.read(native, dtype="float32", always_2d=True)
                a = round(cut.offset_s * rate)
                nat = nat.mean(axis=1)[a : a + round(length * rate)] * gain
                natives.append((nat.astype(np.float32), int(rate)))
        gaps = [_gap(turns[i - 1].speaker) for i in range(1, len(turns))]
        track, starts = _join(pieces, SPEECH_SAMPLE_RATE, gaps)
        duration = write_wav_16k(track, SPEECH_SAMPLE_RATE, out_wav)
        rates = {r for _, r in natives}
        if len(natives) == len(pieces) and len(rates) == 1:
            native_rate = rates.pop()
            nat_track, _ = _join([n for n, _ in natives], native_rate, gaps)
            native_out = native_wav_path(out_wav)
            sf.write(native_out, np.clip(nat_track, -1, 1), native_rate, subtype="PCM_16")
    words: list[WordTiming] = []
    phonemes: list[PhonemeTiming] = []
    segments: list[SpeechSegment] = []
    for (speaker, spoken, cut_s, length), start in zip(timed, starts, strict=True):
        end = min(start + length, duration)

        def shift(t: float, start: float = start, cut_s: float = cut_s, end: float = end) -> float:
            return round(min(max(start, start + t - cut_s), end), 3)

        words += [
            WordTiming(word=w.word, start=shift(w.start), end=shift(w.end)) for w in spoken.words
        ]
        phonemes += [
            PhonemeTiming(phoneme=p.phoneme, start=shift(p.start), end=shift(p.end))
            for p in spoken.phonemes
        ]
        segments.append(SpeechSegment(start=round(start, 3), end=round(end, 3), speaker=speaker))
    return DialogueSpeech(
        duration_s=duration,
        words=tuple(words),
        phonemes=tuple(phonemes),
        voice=f"host {said.get('host', host_voice)}, guest {said.get('guest', guest_voice)}",
        segments=tuple(segments),
        voices=(said.get("host", host_voice), said.get("guest", guest_voice)),
    )


def _join(pieces: list[np.ndarray], rate: int, gaps: list[float]) -> tuple[np.ndarray, list[float]]:
    """``pieces`` joined with a pause of ``gaps[i]`` before piece i+1; their start times."""
    out: list[np.ndarray] = []
    starts: list[float] = []
    at = 0
    for i, p in enumerate(pieces):
        if i:
            pause = np.zeros(round(gaps[i - 1] * rate), np.float32)
            out.append(pause)
            at += pause.size
        starts.append(at / rate)  # each turn was trimmed with a little silence kept: no clicks
        out.append(p)
        at += p.size
    return np.concatenate(out).astype(np.float32), starts


# --- Dia: one generation, speaker tags --------------------------------------------------------


def dia_dialogue_text(turns: tuple[ScriptTurn, ...], max_chars: int) -> str:
    """The conversation with Dia's speaker tags, so that every chunk Dia generates on its
    own (it splits long text at sentences, see :func:`split_sentences`) starts with the tag
    of whoever speaks there: each turn opens with its tag, and a turn that a chunk boundary
    cuts gets its tag repeated at the cut."""
    from tasks.script.grounding import split_sentences as sentences_of

    units: list[list[object]] = []  # [tag, sentence, tagged?]
    for turn in turns:
        for k, sentence in enumerate(sentences_of(turn.text)):
            units.append([DIA_TAGS[turn.speaker], sentence, k == 0])
    text = ""
    for _ in range(len(units) + 1):
        rendered = [f"{u[0]} {u[1]}" if u[2] else str(u[1]) for u in units]
        text = " ".join(rendered)
        chunk_starts, at = set(), 0
        for chunk in split_sentences(text, max_chars):
            chunk_starts.add(at)
            at += len(chunk) + 1
        at, untagged = 0, None
        for u, r in zip(units, rendered, strict=True):
            if at in chunk_starts and not u[2]:
                untagged = u
                break
            at += len(r) + 1
        if untagged is None:
            return text
        untagged[2] = True
    return text


def _speak_dia(
    provider: SpeechProvider,
    turns: tuple[ScriptTurn, ...],
    host_voice: str,
    speed: int,
    out_wav: Path,
) -> DialogueSpeech:
    opts = getattr(provider, "options", None)
    max_chars = int(getattr(opts, "max_chunk_chars", 250))
    spoken = provider.speak(dia_dialogue_text(turns, max_chars), host_voice, speed, out_wav)
    counts = [len(t.text.split()) for t in turns]
    segments = turn_segments(turns, counts, spoken.words, spoken.duration_s)
    return DialogueSpeech(
        duration_s=spoken.duration_s,
        words=spoken.words,
        phonemes=spoken.phonemes,
        voice=f"{spoken.voice} [S1] host, [S2] guest",
        segments=segments,
        voices=(f"{spoken.voice}:S1", f"{spoken.voice}:S2"),
    )


def turn_segments(
    turns: tuple[ScriptTurn, ...],
    counts: list[int],
    words: tuple[WordTiming, ...],
    duration: float,
) -> tuple[SpeechSegment, ...]:
    """Turn spans from word timings: each boundary halfway between one turn's last word and
    the next turn's first; by word share when the timings do not match the turns' words."""
    total = sum(counts)
    firsts = np.cumsum([0, *counts[:-1]])
    if len(words) == total and total:
        bounds = [0.0]
        for k in range(1, len(turns)):
            last, first = words[firsts[k] - 1], words[firsts[k]]
            bounds.append(round((last.end + first.start) / 2, 3))
        bounds.append(duration)
    else:
        bounds = [round(duration * c / max(total, 1), 3) for c in np.cumsum([0, *counts])]
    return tuple(
        SpeechSegment(start=bounds[k], end=max(bounds[k + 1], bounds[k]), speaker=t.speaker)
        for k, t in enumerate(turns)
    )
