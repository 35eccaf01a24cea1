"""Where each scene of an explainer is spoken: scene boundaries from the speech's word timings.

The whole script is synthesised in one go (as for any video) and the scenes are found in
its word timings, rather than synthesising scene by scene and joining the pieces:

- one synthesis keeps one continuous voice and prosody, and costs one provider call (Dia
  and OpenAI TTS bill and warm up per call; a 5-minute explainer would make eight);
- every provider gives word timings (eSpeak natively, Dia and OpenAI through
  :mod:`tasks.speech.align`), and the scene texts are the script's words in order, so the
  words of each scene are known; a sequence match tolerates a provider that merged or
  dropped a token, and a scene that matches nothing falls back to its share of the words.

A boundary sits in the middle of the pause between a scene's last word and the next
scene's first, so a transition centred on it never covers speech of the wrong scene.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

from novaavatar.domain import SpeechSegment, WordTiming
from novaavatar.languages import tokens as text_tokens

_PUNCT = re.compile(r"[^\w']+")


def _norm(token: str) -> str:
    return _PUNCT.sub("", token.lower().replace("’", "'"))


def scene_boundaries(
    scene_texts: Sequence[str], words: Sequence[WordTiming], duration_s: float
) -> list[float]:
    """The time each scene after the first starts (len(scene_texts) - 1 values, increasing)."""
    if len(scene_texts) < 2:
        return []
    tokens: list[str] = []
    owner: list[int] = []  # which scene each script token belongs to
    for i, text in enumerate(scene_texts):
        for _, _, tok in text_tokens(text):  # words; characters of Chinese and Japanese
            tokens.append(_norm(tok))
            owner.append(i)
    timed = sorted(words, key=lambda w: w.start)
    said = [_norm(w.word) for w in timed]
    # script token index → timing index, from the longest common runs
    mapping: dict[int, int] = {}
    matcher = difflib.SequenceMatcher(a=tokens, b=said, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            mapping[a + k] = b + k
    first_token = [owner.index(i) if i in owner else len(owner) for i in range(len(scene_texts))]
    out: list[float] = []
    for i in range(1, len(scene_texts)):
        start_tok = first_token[i]
        nxt = next((mapping[t] for t in range(start_tok, len(tokens)) if t in mapping), None)
        prev = next((mapping[t] for t in range(start_tok - 1, -1, -1) if t in mapping), None)
        if nxt is not None and prev is not None and prev < nxt:
            # the middle of the pause between the two scenes' neighbouring words
            end, start = timed[prev].end, timed[nxt].start
            at = (end + start) / 2 if end <= start else start
        else:  # nothing matched near the boundary: the scene's share of the words
            at = duration_s * start_tok / max(len(tokens), 1)
        out.append(at)
    fixed: list[float] = []  # strictly increasing, inside the speech
    lo = 0.0
    for at in out:
        lo = min(max(at, lo + 0.01), duration_s - 0.01)
        fixed.append(round(lo, 3))
    return fixed


def scene_segments(
    scene_texts: Sequence[str], words: Sequence[WordTiming], duration_s: float
) -> tuple[SpeechSegment, ...]:
    """One segment per scene, in order, covering the speech from 0 to ``duration_s``."""
    if not scene_texts:
        return ()
    bounds = [0.0, *scene_boundaries(scene_texts, words, duration_s), round(duration_s, 3)]
    return tuple(
        SpeechSegment(start=bounds[i], end=bounds[i + 1], scene=i) for i in range(len(scene_texts))
    )
