"""Explainer scripts: a 1-5 minute video told in 3-8 scenes, each over its own background.

An explainer opens with an intro scene (the headline), goes through body scenes built
around one group of the item's sentences each, and closes with an outro. Each scene has a
title (a chapter marker and an on-screen card) and a scene description (its background).

The offline provider is extractive like the single-presenter template: every fact is one
of the item's own sentences. A thin item gives fewer, shorter scenes and a note that the
target length could not be reached without inventing facts; only bridge lines that state
no facts ("Let's look closer.") are added.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from novaavatar.domain import (
    MAX_EXPLAINER_S,
    MIN_EXPLAINER_S,
    SCRIPT_STYLES,
    ContentItem,
    ScriptScene,
    VideoScript,
)
from novaavatar.errors import InputError, ProviderError
from novaavatar.languages import cut_units, join_words, units
from tasks.script import (
    _STOPWORDS,
    STYLE_FRAMES,
    ScriptProvider,
    TemplateProvider,
    balanced,
    frames_for,
    item_facts,
    pick_facts,
)
from tasks.script.grounding import split_sentences
from tasks.script.openai_script import (
    STYLE_GUIDES,
    OpenAIFormatProvider,
    OpenAIScriptProvider,
    article_messages,
    language_instruction,
)

log = logging.getLogger("novaavatar.script.scenes")

MIN_SCENES = 3
MAX_SCENES = 8
WORDS_PER_BODY_SCENE = (
    40  # ~15 s of speech: long enough to read a background, short enough to move on
)
THIN_SHARE = 0.8  # below this share of the target length the script says it is short

# Per style: the intro's opening line, the bridges that lead into a body scene (no facts),
# the outro's closing line and its title. {source} and {topic} are filled in.
SCENE_FRAMES: dict[str, dict[str, object]] = {
    "news_anchor": {
        "open": "Good evening. In this explainer we go through a story reported by {source}.",
        "bridge": ["Here is what we know.", "There is more to it.", "Next, another detail."],
        "close": "That is the full picture as it has been reported so far.",
        "outro": "Wrap-up",
    },
    "casual": {
        "open": "Hey everyone! Let's walk through a story from {source}, step by step.",
        "bridge": ["Okay, so here's the thing.", "But wait, there's more.", "Now, this part."],
        "close": "And that's the whole story, at least for now.",
        "outro": "That's it",
    },
    "educational": {
        "open": "Today we take a closer look at a story about {topic}, reported by {source}.",
        "bridge": [
            "Let's start with what was reported.",
            "Let's look at the next point.",
            "Here is another part of the story.",
        ],
        "close": "Those are the key points this story teaches us about {topic}.",
        "outro": "Key takeaways",
    },
    "entertaining": {
        "open": "Buckle up: here's a story from {source}, told in a few quick scenes!",
        "bridge": ["Here's how it starts.", "And it doesn't stop there.", "Now for the twist."],
        "close": "What a story. We'll be watching what happens next!",
        "outro": "The end, for now",
    },
    "professional": {
        "open": "This explainer summarises reporting from {source} in a few short parts.",
        "bridge": ["First, the facts.", "The next point follows.", "A further point."],
        "close": "That concludes this explainer.",
        "outro": "Summary",
    },
}


def check_explainer(style: str, duration_s: float) -> None:
    """An explainer's style and length; InputError naming what would be right."""
    if style not in SCRIPT_STYLES:
        raise InputError(f"unknown style {style!r}: choose one of {', '.join(SCRIPT_STYLES)}")
    if not MIN_EXPLAINER_S <= duration_s <= MAX_EXPLAINER_S:
        raise InputError(
            f"explainer duration {duration_s:g} s is out of range: allowed "
            f"{MIN_EXPLAINER_S}–{MAX_EXPLAINER_S} s"
        )


def scene_count(budget_words: int) -> int:
    """How many scenes a script of ``budget_words`` words is told in (intro and outro included)."""
    return max(MIN_SCENES, min(MAX_SCENES, 2 + round(budget_words / WORDS_PER_BODY_SCENE)))


# The outro's chapter title in the languages the offline frames speak (English: per style).
OUTRO_TITLES = {
    "es": "Resumen",
    "fr": "En bref",
    "de": "Zusammenfassung",
    "ar": "الخلاصة",
    "zh": "总结",
    "ja": "まとめ",
}


def joined_text(scenes: Sequence[ScriptScene]) -> str:
    """Everything said in an explainer: the scene texts in order (no space between Chinese
    or Japanese sentences)."""
    return join_words([s.text for s in scenes])


def check_scenes(scenes: Sequence[ScriptScene]) -> None:
    if not MIN_SCENES <= len(scenes) <= MAX_SCENES:
        raise ValueError(f"an explainer has {MIN_SCENES}-{MAX_SCENES} scenes, not {len(scenes)}")


def topic_words(text: str, n: int = 4) -> list[str]:
    """A scene's most frequent content words, in the order they first appear."""
    words = re.findall(r"[A-Za-z][A-Za-z\-']{2,}", text)
    order: dict[str, int] = {}
    for i, w in enumerate(words):
        order.setdefault(w.lower(), i)
    counts = Counter(w.lower() for w in words if w.lower() not in _STOPWORDS)
    top = sorted(counts, key=lambda w: (-counts[w], order[w]))[:n]
    return sorted(top, key=lambda w: order[w])


def lead_title(sentence: str, max_words: int = 6) -> str:
    """A chapter title from the start of a scene's first fact: its first words, without a
    dangling function word ("Researchers will compare maintenance costs")."""
    if units(sentence) > 2 * len(sentence.split()):  # Chinese, Japanese: the first characters
        return cut_units(sentence, 2 * max_words).rstrip("、，。！？,.") or "…"
    words = re.sub(r"[\"“”]", "", sentence).split()[:max_words]
    if len(words) > 3 and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    # a title ends on a name or a noun, not on "the" or a past-tense verb ("launched")
    while len(words) > 2 and (
        words[-1].lower().strip(",;:.") in _STOPWORDS or words[-1].lower().endswith("ed")
    ):
        words.pop()
    title = " ".join(words).rstrip(",;:.!?")
    return (title[:1].upper() + title[1:]) or "More details"


def short_title(title: str, limit: int = 60) -> str:
    title = " ".join(title.split()).rstrip(".!?")
    if len(title) <= limit:
        return title
    return title[: limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


def scene_backdrop(text: str, index: int, count: int, kind: str) -> str:
    """A background description for one scene, from its own words (no people, no text)."""
    kws = ", ".join(topic_words(text)) or "the news"
    settings = {
        "intro": "A wide establishing view",
        "body": "A calm illustrative backdrop",
        "outro": "A soft, wide closing view",
    }
    return (
        f"{settings[kind]} evoking {kws}; scene {index + 1} of {count}; gentle depth, "
        f"room in the centre for a presenter; no people, no text."
    )


def scene_frames(language: str) -> dict[str, dict[str, object]] | None:
    """The explainer frames of a language: English's own, else the single-video frames of
    :mod:`tasks.script.frames` with the outro's title; None where there are none."""
    if language == "en":
        return {k: {**v, "cta": STYLE_FRAMES[k]["cta"]} for k, v in SCENE_FRAMES.items()}
    frames = frames_for(language)
    if frames is None:
        return None
    return {k: {**v, "outro": OUTRO_TITLES.get(language, "…")} for k, v in frames.items()}


class SceneTemplateProvider(TemplateProvider):
    """Offline, extractive explainers: the item's own sentences, scene by scene."""

    name = "template-scenes"
    kind = "explainer"

    def check(self, style: str, duration_s: float) -> None:
        check_explainer(style, duration_s)

    def frames(self, language: str) -> dict[str, dict[str, object]] | None:
        return scene_frames(language)

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
        opening, closing, cta, topic = f.opening, f.closing, f.cta, f.topic
        bridges = f.lines("bridge")
        budget = int(duration_s * words_per_second)
        headline, facts, _stop = item_facts(item, f.language)
        used = units(opening) + units(headline) + units(closing) + units(cta)
        chosen = pick_facts(facts, budget - used)
        used += sum(units(s) for s in chosen)
        if not chosen:  # no sentence besides the headline: it carries the one body scene
            chosen, headline = [headline], ""
            bridges = [bridges[0]]
        n_body = min(scene_count(budget) - 2, len(chosen))
        groups = balanced(chosen, n_body)
        # bridges (no facts) lead into body scenes while there is room for them
        body_texts: list[str] = []
        for g, group in enumerate(groups):
            bridge = bridges[g] if g < len(bridges) else ""
            if bridge and used + units(bridge) <= budget:
                used += units(bridge)
                body_texts.append(join_words([bridge, *group]))
            else:
                body_texts.append(join_words(group))

        intro_text = join_words([opening, headline] if headline else [opening])
        scenes = [
            ScriptScene(
                text=intro_text,
                title=short_title(item.title),
                scene_description=scene_backdrop(f"{item.title} {topic}", 0, n_body + 2, "intro"),
            )
        ]
        for g, text in enumerate(body_texts):
            scenes.append(
                ScriptScene(
                    text=text,
                    title=lead_title(groups[g][0]),
                    scene_description=scene_backdrop(
                        " ".join(groups[g]), g + 1, n_body + 2, "body"
                    ),
                )
            )
        scenes.append(
            ScriptScene(
                text=join_words([closing, cta]),
                title=str(f.frame["outro"]),
                scene_description=scene_backdrop(topic, n_body + 1, n_body + 2, "outro"),
            )
        )
        check_scenes(scenes)
        text = joined_text(scenes)
        reached = units(text) / max(words_per_second, 0.1)
        if reached < THIN_SHARE * duration_s:
            note = (
                f"the item holds only enough material for about {reached:.0f} s of the "
                f"{duration_s:g} s target: the explainer is shorter rather than invent facts"
            )
            self.notes.append(note)
            log.warning("script: %s", note)
        return self.script(
            item,
            style,
            duration_s,
            f,
            text=text,
            scenes=tuple(scenes),
            scene_description=scenes[0].scene_description,
        )


# --- OpenAI ----------------------------------------------------------------------------------


class SceneDraft(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="A short chapter title for this scene, at most 6 words.")
    text: str = Field(
        description="What the presenter says in this scene: plain spoken sentences, no stage "
        "directions, emojis, hashtags or markdown."
    )
    scene_description: str = Field(
        description="The background image of this scene: a setting that illustrates it, "
        "without people, text, letters or logos, with room in the centre for a presenter."
    )


class ExplainerDraft(BaseModel):
    """The structured answer for an explainer (a strict JSON schema)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(description="Headline for the video, at most 12 words.")
    scenes: list[SceneDraft] = Field(
        description="The scenes in order: an intro, body scenes each about one point of the "
        "article, and an outro whose text ends with the call to action."
    )
    call_to_action: str = Field(description="The closing sentence inviting viewers to act.")
    keywords: list[str] = Field(description="3 to 6 lowercase topic keywords.")


def explainer_messages(
    item: ContentItem,
    style: str,
    duration_s: float,
    words_per_second: float,
    budget: int,
    n_scenes: int,
    variant: int = 0,
    language: str = "en",
    hook: str | None = None,
) -> list[dict[str, str]]:
    rules = [
        "You write the spoken script of an explainer video read aloud by one presenter, "
        "told in scenes that each have their own background image.",
        f"Voice and tone: {STYLE_GUIDES[style]}.",
        language_instruction(language),
        f"Shape: {n_scenes} scenes (at least {MIN_SCENES}, at most {MAX_SCENES}): an intro "
        "with the headline, body scenes each about one point of the article, and an outro "
        "ending with the call to action. Give each scene a short title.",
        f"Length: the video lasts {duration_s:g} s and the presenter speaks about "
        f"{words_per_second:.1f} words per second, so all scenes together have AT MOST "
        f"{budget} words (aim for about {int(budget * 0.9)}).",
    ]
    thin = "write fewer and shorter scenes rather than inventing anything"
    return article_messages(item, "explainer", rules, variant, thin, hook)


def fit_scenes(scenes: list[ScriptScene], budget: int) -> list[ScriptScene]:
    """Hold the scenes to ``budget`` words: drop body scenes beyond the limit (the intro and
    outro stay), then the longest scene loses its last sentences."""
    s = list(scenes)
    while len(s) > MAX_SCENES or (units(joined_text(s)) > budget and len(s) > MIN_SCENES):
        del s[-2]  # the last body scene before the outro
    while units(joined_text(s)) > budget:
        i = max(range(len(s)), key=lambda k: units(s[k].text))
        parts = split_sentences(s[i].text)
        if len(parts) < 2:
            break
        s[i] = s[i].model_copy(update={"text": join_words(parts[:-1])})
    return s


class OpenAISceneProvider(OpenAIFormatProvider):
    """Explainers written by an OpenAI chat model: the single-script provider's client,
    retries, deadline and pricing, with a scenes schema."""

    name = "openai-scenes"

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
        language, deadline = self.begin(check_explainer, style, duration_s, language)
        budget = int(duration_s * words_per_second)
        n_scenes = scene_count(budget)
        messages = explainer_messages(
            item, style, duration_s, words_per_second, budget, n_scenes, variant, language, hook
        )
        with self.client() as client:
            draft = self.ask(client, messages, budget, deadline, ExplainerDraft)
        scenes = [
            ScriptScene(
                text=" ".join(d.text.split()),
                title=short_title(d.title, 80) or f"Part {i + 1}",
                scene_description=d.scene_description.strip()[:600],
            )
            for i, d in enumerate(draft.scenes)
            if d.text.strip()
        ]
        if len(scenes) < MIN_SCENES:
            raise ProviderError(
                f"OpenAI returned {len(scenes)} scene(s); an explainer needs at least {MIN_SCENES}"
            )
        n = units(joined_text(scenes))
        fitted = fit_scenes(scenes, budget)
        if len(fitted) != len(scenes) or units(joined_text(fitted)) != n:
            self.notes.append(
                f"held to the budget: {len(scenes)} scenes, {n} words → "
                f"{len(fitted)} scenes, {units(joined_text(fitted))} words (≤{budget})"
            )
        if units(joined_text(fitted)) > budget:
            raise ProviderError(f"OpenAI's explainer has {n} words and cannot fit {budget}")
        check_scenes(fitted)
        return self.finish(
            item,
            joined_text(fitted),
            draft,
            style=style,
            duration_s=duration_s,
            language=language,
            scene_description=fitted[0].scene_description,
            scenes=tuple(fitted),
        )


def default_providers() -> list[ScriptProvider]:
    """OpenAI (when a key is configured) then the offline template, for explainers."""
    from tasks.script.chain import default_providers as single_providers

    out: list[ScriptProvider] = []
    for p in single_providers():
        if isinstance(p, OpenAIScriptProvider):
            out.append(OpenAISceneProvider(p))
    out.append(SceneTemplateProvider())
    return out


def parse_scenes(text: str, backdrop: str = "") -> tuple[ScriptScene, ...]:
    """Scenes from typed text: one per paragraph (blank lines between), a first line
    ``# Title`` naming it; ValueError naming what is wrong otherwise."""
    blocks = [b.strip() for b in re.split(r"\n\s*\n", text.replace("\r\n", "\n")) if b.strip()]
    scenes = []
    for i, block in enumerate(blocks):
        lines = block.splitlines()
        title = ""
        if lines[0].lstrip().startswith("#"):
            title = lines[0].lstrip().lstrip("#").strip()
            lines = lines[1:]
        spoken = " ".join(" ".join(lines).split())
        if not spoken:
            raise ValueError(
                f"scene {i + 1} ({title or 'untitled'}) has a title but nothing to say"
            )
        title = title or lead_title(split_sentences(spoken)[0])
        where = f"{backdrop.rstrip('.')}; " if backdrop.strip() else ""
        scenes.append(
            ScriptScene(
                text=spoken,
                title=short_title(title, 80),
                scene_description=f"{where}{scene_backdrop(spoken, i, len(blocks), 'body')}",
            )
        )
    if not MIN_SCENES <= len(scenes) <= MAX_SCENES:
        raise ValueError(
            f"an explainer has {MIN_SCENES}-{MAX_SCENES} scenes, one per paragraph (a blank line "
            f"between them, an optional first line '# Title'); this text has {len(scenes)}"
        )
    return tuple(scenes)
