"""eSpeak NG through ctypes: speech samples plus word and phoneme timings from its events.

The library and its data come from the ``espeakng-loader`` wheel, so no system package is
needed; a system ``libespeak-ng`` is not required either. eSpeak keeps global state, so one
process-wide lock serialises synthesis (it is ~100x faster than real time anyway).
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from novaavatar.errors import InputError, ProviderError
from novaavatar.languages import language_of_voice, units
from novaavatar.languages import tokens as text_tokens

# espeak_EVENT_TYPE values from speak_lib.h
_EV_LIST_TERMINATED = 0
_EV_WORD = 1
_EV_END = 5
_EV_MSG_TERMINATED = 6
_EV_PHONEME = 7

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_PARAM_RATE = 1
_PARAM_PITCH = 3


class _EventId(ctypes.Union):
    _fields_ = (("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8))


class _Event(ctypes.Structure):
    _fields_ = (
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    )


class _Voice(ctypes.Structure):
    _fields_ = (
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    )


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass
class EspeakSpeech:
    """Raw synthesis result at eSpeak's native rate; times in seconds."""

    samples: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    words: list[tuple[str, float, float]] = field(default_factory=list)
    phonemes: list[tuple[str, float, float]] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return len(self.samples) / self.sample_rate


class _Engine:
    """The process-wide eSpeak NG instance."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(str(espeakng_loader.get_library_path()))
        data = str(espeakng_loader.get_data_path()).encode()
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_Initialize.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        )
        self.lib.espeak_SetVoiceByName.argtypes = (ctypes.c_char_p,)
        self.lib.espeak_SetParameter.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self.lib.espeak_Synth.argtypes = (
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        )
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
        self.lib.espeak_ListVoices.argtypes = (ctypes.c_void_p,)
        rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data, _INIT_PHONEME_EVENTS | _INIT_DONT_EXIT
        )
        if rate <= 0:
            raise ProviderError(f"eSpeak NG failed to initialise with data at {data.decode()}")
        self.sample_rate = rate
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav: ctypes.Array, n: int, events: ctypes.Array) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while True:
            ev = events[i]
            if ev.type == _EV_LIST_TERMINATED:
                break
            name = ""
            if ev.type == _EV_PHONEME:
                name = bytes(ev.id.string).split(b"\0", 1)[0].decode("ascii", "replace")
            self._events.append((ev.type, ev.audio_position, ev.text_position, ev.length, name))
            i += 1
        return 0

    def _by_language(self) -> dict[str, str]:
        """Each voice's language name (en-gb) and its file identifier (gmw/en)."""
        out: dict[str, str] = {}
        arr = self.lib.espeak_ListVoices(None)
        i = 0
        while arr[i]:
            v = arr[i].contents
            ident = v.identifier.decode() if v.identifier else ""
            langs = v.languages or b""
            # languages: a priority byte then a NUL-terminated name (first entry is enough)
            lang = langs[1:].decode(errors="replace") if len(langs) > 1 else ""
            if ident:
                out.setdefault(ident, ident)
            if lang and ident:
                out.setdefault(lang, ident)
            i += 1
        return out

    def voices(self) -> list[str]:
        return sorted(self._by_language())

    def _set_voice(self, voice: str) -> bool:
        """Select ``voice`` (name, identifier or language, with an optional +variant); a
        language such as en-gb is found through its voice file (gmw/en), which the name
        lookup alone does not do."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) == 0:
            return True
        base, plus, variant = voice.partition("+")
        ident = self._by_language().get(base)
        if ident is None or ident == base:
            return False
        return self.lib.espeak_SetVoiceByName(f"{ident}{plus}{variant}".encode()) == 0

    def synth(self, text: str, voice: str, rate_wpm: int, pitch: int) -> EspeakSpeech:
        if not self._set_voice(voice):
            known = ", ".join(v for v in self.voices() if "/" not in v)
            raise InputError(f"unknown eSpeak voice {voice!r}; try one of: {known[:400]}")
        self.lib.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        self._chunks, self._events = [], []
        buf = text.encode("utf-8") + b"\0"
        err = self.lib.espeak_Synth(buf, len(buf), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise ProviderError(f"eSpeak NG synthesis failed with code {err}")
        self.lib.espeak_Synchronize()
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        samples = pcm.astype(np.float32) / 32768.0
        return _timings(text, samples, self.sample_rate, self._events)


def _timings(
    text: str, samples: np.ndarray, sr: int, events: list[tuple[int, int, int, int, str]]
) -> EspeakSpeech:
    """Turn eSpeak's event stream into (label, start, end) word and phoneme spans."""
    total = len(samples) / sr
    starts = [(t, ms / 1000.0, pos, length, name) for t, ms, pos, length, name in events]
    words: list[tuple[str, float, float]] = []
    phonemes: list[tuple[str, float, float]] = []
    word_ev = [e for e in starts if e[0] == _EV_WORD]
    phon_ev = [e for e in starts if e[0] == _EV_PHONEME and e[4]]
    pauses = [p[1] for p in phon_ev if p[4].startswith("_")]
    # Chinese/Japanese characters are words of their own: eSpeak's events point at them
    tokens = text_tokens(text)
    # eSpeak positions count characters from 1; it merges some words ("from the") into one
    # event, so each event opens a group of the text's own tokens that share its time span
    first_tok: dict[int, float] = {}
    for _, t0, pos, _, _ in word_ev:
        idx = next((i for i, (a, b, _) in enumerate(tokens) if a <= pos - 1 < b), None)
        if idx is not None and idx not in first_tok:
            first_tok[idx] = t0
    group_starts = sorted(first_tok)
    for g, idx in enumerate(group_starts):
        nxt = group_starts[g + 1] if g + 1 < len(group_starts) else len(tokens)
        t0 = first_tok[idx]
        t1 = first_tok.get(nxt, total)
        # speech ends at the last pause before the next group, when there is one
        inner_pauses = [p for p in pauses if t0 < p < t1]
        t_end = inner_pauses[0] if inner_pauses else t1
        group = tokens[idx:nxt]
        chars = sum(len(tok) for _, _, tok in group)
        cursor = t0
        for _, _, tok in group:
            span = (t_end - t0) * len(tok) / max(chars, 1)
            # punctuation stays on the word: captions break lines at sentence ends
            words.append((tok, round(cursor, 3), round(max(cursor + span, cursor + 0.01), 3)))
            cursor += span
    for k, (_, t0, _, _, name) in enumerate(phon_ev):
        t1 = phon_ev[k + 1][1] if k + 1 < len(phon_ev) else total
        phonemes.append((name, round(t0, 3), round(max(t1, t0), 3)))
    return EspeakSpeech(samples=samples, sample_rate=sr, words=words, phonemes=phonemes)


_lock = threading.Lock()
_engine: _Engine | None = None


def _get_engine() -> _Engine:
    global _engine
    if _engine is None:
        _engine = _Engine()
    return _engine


def synthesize(
    text: str, voice: str = "en-us", rate_wpm: int = 165, pitch: int = 50
) -> EspeakSpeech:
    """Speak ``text`` with eSpeak NG; returns native-rate samples and timings."""
    if not text or not text.strip():
        raise InputError("text to speak is empty: give at least one word")
    if not 80 <= rate_wpm <= 450:
        raise InputError(f"speech speed {rate_wpm} wpm is out of range: allowed 80–450")
    with _lock:
        return _get_engine().synth(text, voice, rate_wpm, pitch)


def list_voices() -> list[str]:
    with _lock:
        return _get_engine().voices()


_RATE_REFERENCE = (
    "Good evening. Here are the stories we are following tonight. Scientists have "
    "announced new results from a long study of ocean temperatures, and city leaders "
    "met to discuss plans for cleaner public transport over the next ten years."
)


@lru_cache(maxsize=32)
def words_per_second(voice: str = "en-us", rate_wpm: int = 165) -> float:
    """The measured speaking rate of a voice at a speed, pauses included, on a reference
    text in the voice's language: words per second, or characters per second for Chinese
    and Japanese (see :func:`novaavatar.languages.units`)."""
    sample = language_of_voice(voice).sample or _RATE_REFERENCE
    speech = synthesize(sample, voice, rate_wpm)
    return units(sample) / max(speech.duration_s, 0.1)
