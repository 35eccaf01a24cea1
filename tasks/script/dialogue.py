"""Conversation scripts: a host and a guest talk an item through, in alternating turns.

The host introduces the story and asks; the guest states what the item says. Only the
guest's lines carry facts, so the offline provider stays extractive (the item's own
sentences, nothing invented) and the grounding check still covers every line.

The host speaks the video's language: English frames here, the others from
:data:`tasks.script.frames.DIALOGUE` for every language the single-video template frames in
(:func:`tasks.script.frames_for` decides which). The guest's facts are the item's own
sentences, untranslated (the same "language mismatch" note as the single-video template).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from novaavatar.domain import (
    ContentItem,
    ScriptTurn,
    Speaker,
    VideoScript,
)
from novaavatar.errors import ProviderError
from novaavatar.languages import (
    join_words,
    units,
)
from tasks.script import (
    ScriptProvider,
    TemplateProvider,
    _check,
    balanced,
    frames_for,
    item_facts,
    pick_facts,
)
from tasks.script.frames import DIALOGUE
from tasks.script.grounding import split_sentences
from tasks.script.openai_script import (
    STYLE_GUIDES,
    OpenAIFormatProvider,
    OpenAIScriptProvider,
    article_messages,
    language_instruction,
)

MIN_TURNS = 4
MAX_TURNS = 12
TURN_GAP_S = 0.35  # the pause between two speakers (tasks.speech.dialogue uses the same)

# Per style: the host's opening, the questions that hand over to the guest, the guest's
# line for a thin item and the host's thanks. None of them states a fact.
DIALOGUE_FRAMES: dict[str, dict[str, object]] = {
    "news_anchor": {
        "open": "Good evening. Our correspondent joins us with a story from {source}.",
        "ask": [
            "What happened?",
            "What else do we know?",
            "And what comes next?",
            "Is there anything more?",
            "What should viewers keep in mind?",
        ],
        "thin": "That is what has been reported so far.",
        "close": "Thank you for joining us. That is the latest on this story.",
    },
    "casual": {
        "open": "Hey everyone! I'm here with our guest, and we've got a story from {source}.",
        "ask": [
            "So, what's going on?",
            "Okay, tell me more.",
            "Wait, really? What else?",
            "And then what?",
            "Anything else people should know?",
        ],
        "thin": "Honestly, that's all we know right now.",
        "close": "Thanks so much, that was great.",
    },
    "educational": {
        "open": "Welcome. Today our guest walks us through a story reported by {source}.",
        "ask": [
            "Where does the story begin?",
            "Can you explain a bit more?",
            "Why does that matter?",
            "What else was reported?",
            "What is the key point to remember?",
        ],
        "thin": "That is the part of the story that has been reported.",
        "close": "Thank you. That helps us understand the story.",
    },
    "entertaining": {
        "open": "Welcome back! Our guest brought a story straight from {source}.",
        "ask": [
            "Go on, what happened?",
            "No way. What else?",
            "Okay, and then?",
            "There's more?",
            "What's the best part?",
        ],
        "thin": "And that's the story so far!",
        "close": "What a story. Thanks for bringing it to us!",
    },
    "professional": {
        "open": "Welcome to this briefing. Our analyst reviews reporting from {source}.",
        "ask": [
            "What are the main points?",
            "What are the further details?",
            "What follows from this?",
            "Is there anything to add?",
            "What is the bottom line?",
        ],
        "thin": "Those are the points reported so far.",
        "close": "Thank you. That concludes this briefing.",
    },
}


def dialogue_frames(language: str) -> dict[str, dict[str, object]] | None:
    """The host's lines of a language, with the style's call to action ("cta"): English's
    own, else :data:`tasks.script.frames.DIALOGUE`; None where the offline template has no
    frames in that language (the same languages as :func:`tasks.script.frames_for`)."""
    frames = frames_for(language)
    if frames is None:
        return None
    own = DIALOGUE_FRAMES if language == "en" else DIALOGUE[language]
    thanks = "Thank you."
    return {k: {"thanks": thanks, **v, "cta": frames[k]["cta"]} for k, v in own.items()}


def turn_count(duration_s: float) -> int:
    """How many turns a conversation of this length has: 5 (15 s) up to 11 (50 s and more).

    Odd: the host opens, each question is answered, and the host closes.
    """
    pairs = min(5, max(2, round(duration_s / 10)))
    return 2 * pairs + 1


def joined_text(turns: tuple[ScriptTurn, ...] | list[ScriptTurn]) -> str:
    """Everything said, turn by turn (no space between Chinese or Japanese sentences)."""
    return join_words([t.text for t in turns])


def check_turns(turns: tuple[ScriptTurn, ...]) -> None:
    """Raise ValueError unless the turns alternate host/guest, start with the host, 4–12."""
    if not MIN_TURNS <= len(turns) <= MAX_TURNS:
        raise ValueError(f"a conversation has {MIN_TURNS}-{MAX_TURNS} turns, not {len(turns)}")
    if turns[0].speaker != "host":
        raise ValueError("a conversation starts with the host")
    for a, b in pairwise(turns):
        if a.speaker == b.speaker:
            raise ValueError(f"two {a.speaker} turns in a row: the speakers alternate")


class DialogueTemplateProvider(TemplateProvider):
    """Offline, extractive conversations: the host asks, the guest answers with the item's
    sentences. The host speaks the video's language; an item in another language is kept
    as it is and noted (``notes``, "language mismatch")."""

    name = "template-dialogue"
    kind = "conversation"

    def frames(self, language: str) -> dict[str, dict[str, object]] | None:
        return dialogue_frames(language)

    def write(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        words_per_second: float,
        variant: int = 0,
        language: str = "en",
        hook: str | None = None,
    ) -> VideoScript:
        f = self.framing(item, style, duration_s, variant, language, hook)
        asks = f.lines("ask")
        k = variant % (len(asks) - 1)  # the first question stays; the follow-ups rotate
        asks = [asks[0], *asks[1 + k :], *asks[1 : 1 + k]]
        thanks = str(f.frame["thanks"])
        pairs = turn_count(duration_s) // 2
        # the pauses between turns take time the words cannot use
        budget = int(max(duration_s - TURN_GAP_S * 2 * pairs, duration_s * 0.6) * words_per_second)
        headline, rest, stop = item_facts(item, f.language)
        facts = [headline, *rest]

        # a short video drops the call to action, then thanks in two words, then the
        # opening's greeting, so that the guest has at least two facts to say (one, for an
        # item that has only one)
        _greeting, *after = split_sentences(f.opening)
        shapes = [(f.opening, join_words([f.closing, f.cta])), (f.opening, f.closing)]
        shapes.append((f.opening, thanks))
        if after:
            shapes.append((join_words(after), thanks))
        for opening, ending in shapes:
            host = sum(units(h) for h in [opening, *asks[:pairs], ending])
            chosen = pick_facts(facts, budget - host, stop)
            if len(chosen) >= min(2, len(facts)):
                break
        if len(chosen) < pairs:  # a thin item: fewer exchanges, never invented facts
            pairs = max(2, len(chosen))
        groups = balanced(chosen, min(pairs, len(chosen)))
        answers = [join_words(g) for g in groups]
        while len(answers) < pairs:
            answers.append(str(f.frame["thin"]))
        turns: list[ScriptTurn] = []
        for i, answer in enumerate(answers):
            ask = join_words([opening, asks[0]]) if i == 0 else asks[i % len(asks)]
            turns += [
                ScriptTurn(speaker="host", text=ask),
                ScriptTurn(speaker="guest", text=answer),
            ]
        turns.append(ScriptTurn(speaker="host", text=ending))
        return self.script(
            item,
            style,
            duration_s,
            f,
            text=joined_text(turns),
            turns=tuple(turns),
            scene_description=(
                f"A bright modern talk-show studio with two seats and abstract shapes "
                f"suggesting {f.topic}; warm, even lighting; no text."
            ),
            call_to_action=f.cta if ending.endswith(f.cta) else "",
        )


# --- OpenAI ----------------------------------------------------------------------------------


class DialogueTurnDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speaker: Literal["host", "guest"] = Field(description="who says this turn")
    text: str = Field(description="what they say: plain spoken sentences, no stage directions")


class DialogueDraft(BaseModel):
    """The structured answer for a conversation (a strict JSON schema)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="Headline for the video, at most 12 words.")
    turns: list[DialogueTurnDraft] = Field(
        description="The conversation in order, starting with the host and alternating host, "
        "guest, host... The host introduces and asks; the guest states the article's facts."
    )
    call_to_action: str = Field(description="The host's closing sentence inviting viewers to act.")
    scene_description: str = Field(
        description="A background image for the two presenters: a studio or setting related "
        "to the story, without people, text, letters or logos."
    )
    keywords: list[str] = Field(description="3 to 6 lowercase topic keywords.")


def dialogue_messages(
    item: ContentItem,
    style: str,
    duration_s: float,
    words_per_second: float,
    budget: int,
    turns: int,
    variant: int = 0,
    language: str = "en",
    hook: str | None = None,
) -> list[dict[str, str]]:
    rules = [
        "You write the spoken script of a short news video in which two presenters talk: "
        "a host and a guest expert.",
        f"Tone: {STYLE_GUIDES[style]}.",
        language_instruction(language),
        f"Shape: exactly {turns} turns, alternating host and guest, starting and ending "
        "with the host. The host introduces the story and asks short questions; the "
        "host's lines state no facts. The guest answers with the article's facts. The "
        "host's last turn thanks the guest and ends with the call to action.",
        f"Length: the video lasts {duration_s:g} s and they speak about "
        f"{words_per_second:.1f} words per second, so all turns together have AT MOST "
        f"{budget} words (aim for about {int(budget * 0.9)}).",
    ]
    return article_messages(item, "conversation", rules, variant, hook=hook)


def normalise_turns(drafts: list[DialogueTurnDraft]) -> tuple[ScriptTurn, ...]:
    """Whitespace tidied, empty turns dropped, consecutive turns of one speaker merged."""
    out: list[ScriptTurn] = []
    for d in drafts:
        text = " ".join(d.text.split())
        if not text:
            continue
        if out and out[-1].speaker == d.speaker:
            out[-1] = ScriptTurn(speaker=d.speaker, text=f"{out[-1].text} {text}")
        else:
            out.append(ScriptTurn(speaker=d.speaker, text=text))
    return tuple(out)


def fit_turns(turns: tuple[ScriptTurn, ...], budget: int) -> tuple[ScriptTurn, ...]:
    """At most MAX_TURNS turns and ``budget`` words: middle exchanges go first (the opening
    and the closing stay), then the longest turn loses its last sentences."""
    t = list(turns)
    while len(t) > MAX_TURNS or (units(joined_text(t)) > budget and len(t) - 2 >= MIN_TURNS + 1):
        del t[-3:-1]  # the last question and its answer before the closing
    while units(joined_text(t)) > budget:
        i = max(range(len(t)), key=lambda k: units(t[k].text))
        parts = split_sentences(t[i].text)
        if len(parts) < 2:
            break
        t[i] = ScriptTurn(speaker=t[i].speaker, text=join_words(parts[:-1]))
    return tuple(t)


class OpenAIDialogueProvider(OpenAIFormatProvider):
    """Conversations written by an OpenAI chat model (structured turns), held to the item."""

    name = "openai-dialogue"

    def write(
        self,
        item: ContentItem,
        style: str,
        duration_s: float,
        words_per_second: float,
        variant: int = 0,
        language: str = "en",
        hook: str | None = None,
    ) -> VideoScript:
        language, deadline = self.begin(_check, style, duration_s, language)
        n_turns = turn_count(duration_s)
        budget = max(int((duration_s - TURN_GAP_S * (n_turns - 1)) * words_per_second), 20)
        messages = dialogue_messages(
            item, style, duration_s, words_per_second, budget, n_turns, variant, language, hook
        )
        with self.client() as client:
            draft = self.ask(client, messages, budget, deadline, DialogueDraft)
            turns = normalise_turns(draft.turns)
            n = units(joined_text(turns))
            if n > budget:
                self.notes.append(f"re-asked: {n} words > {budget}")
                strict = max(int(budget * 0.85), 10)
                messages += [
                    {"role": "assistant", "content": draft.model_dump_json()},
                    {
                        "role": "user",
                        "content": f"That conversation has {n} words but the limit is {budget}. "
                        f"Rewrite it in at most {strict} words, same facts, same turns.",
                    },
                ]
                try:
                    draft = self.ask(client, messages, budget, deadline, DialogueDraft)
                    turns = normalise_turns(draft.turns)
                except ProviderError as e:
                    self.notes.append(f"re-ask failed: {e}")
        if units(joined_text(turns)) > budget or len(turns) > MAX_TURNS:
            self.notes.append(f"trimmed {units(joined_text(turns))} words → ≤{budget}")
            turns = fit_turns(turns, budget)
        try:
            check_turns(turns)
        except ValueError as e:
            raise ProviderError(f"OpenAI returned an unusable conversation: {e}") from None
        return self.finish(
            item,
            joined_text(turns),
            draft,
            style=style,
            duration_s=duration_s,
            language=language,
            scene_description=draft.scene_description,
            turns=turns,
        )


def default_providers() -> list[ScriptProvider]:
    """OpenAI (when a key is configured) then the offline template, for conversations."""
    from tasks.script.chain import default_providers as single_providers

    out: list[ScriptProvider] = []
    for p in single_providers():
        if isinstance(p, OpenAIScriptProvider):
            out.append(OpenAIDialogueProvider(p))
    out.append(DialogueTemplateProvider())
    return out


def speaker_lines(script: VideoScript, speaker: Speaker) -> list[str]:
    """What one speaker says, turn by turn."""
    return [t.text for t in script.turns if t.speaker == speaker]


_TAG = re.compile(r"^\s*(host|guest)\s*:\s*", re.IGNORECASE)


def parse_dialogue(text: str) -> tuple[ScriptTurn, ...]:
    """Turns from typed lines ``Host: ...`` / ``Guest: ...`` (a line without a tag continues
    the turn before); ValueError naming what is wrong otherwise."""
    turns: list[ScriptTurn] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = _TAG.match(line)
        if m:
            speaker: Speaker = "host" if m.group(1).lower() == "host" else "guest"
            rest = line[m.end() :].strip()
            if rest:
                turns.append(ScriptTurn(speaker=speaker, text=rest))
        elif turns:
            turns[-1] = ScriptTurn(speaker=turns[-1].speaker, text=f"{turns[-1].text} {line}")
        else:
            raise ValueError(
                "a conversation's text starts each turn with 'Host:' or 'Guest:', "
                f"e.g. 'Host: What happened?'; got {line[:40]!r}"
            )
    merged = normalise_turns([DialogueTurnDraft(speaker=t.speaker, text=t.text) for t in turns])
    check_turns(merged)
    return merged
