"""The avatar stage's providers, in the order the chain tries them: OmniAvatar, then lite.

Each takes one :class:`AvatarJob` (every input already a file on this machine) and writes
``job.out``. The stage runs them with the shared provider chain: the first available one
renders; when it fails (or OmniAvatar refuses a reference frame without a face) the next one
does, and the stage records the fallback once, as a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

    from novaavatar.domain import PhonemeTiming, SpeechSegment, WordTiming
    from novaavatar.settings import Settings
    from novaavatar.templates import Brand
    from tasks.avatar.lite import AvatarInfo
    from tasks.avatar.scenes import SceneBackground


@dataclass(frozen=True)
class AvatarJob:
    """One avatar render: the inputs as local files, the look, and where the MP4 goes."""

    background: Path
    speech: Path
    out: Path
    size: tuple[int, int]  # (width, height)
    fps: int
    seed: int
    format: str = "single"
    layout: str = "studio"
    portrait: Path | None = None  # the presenter's (host's) photo; None: the drawn presenter
    guest_portrait: Path | None = None
    phonemes: Sequence[PhonemeTiming] = ()
    words: Sequence[WordTiming] | None = None  # captions burnt in while rendering, when given
    segments: Sequence[SpeechSegment] = ()
    title: str = ""
    scene: str = ""  # what the background shows (OmniAvatar's prompt)
    caption_style: str = "highlight"
    transition: str = "crossfade"
    scenes: Sequence[SceneBackground] | None = None  # an explainer's backgrounds
    brand: Brand | None = None
    language: str = "en"  # of the AI-generated label drawn with the captions
    crf: int = 23
    preset: str = "veryfast"
    progress: Callable[[int, int], None] | None = None
    keep: Callable[[str, np.ndarray], None] | None = None  # a picture worth keeping for review

    @property
    def two_presenters(self) -> bool:
        return self.format == "conversation" and bool(self.segments)

    def overlay_options(self) -> dict[str, Any] | None:
        """What a renderer's caption overlay draws besides the words: the brand's layers and
        the AI-generated label's language; None without words (compose draws them all)."""
        if self.words is None:
            return None
        return {"language": self.language} | ({"brand": self.brand} if self.brand else {})


class AvatarProvider(Protocol):
    name: str

    def available(self) -> bool: ...

    def render(self, job: AvatarJob) -> AvatarInfo: ...

    def describe(self, job: AvatarJob) -> str:
        """One line for the stage record: how it rendered."""
        ...


class OmniAvatarProvider:
    """OmniAvatar on this machine's GPU (``AVATAR_BACKEND=omniavatar`` and the weights)."""

    name = "omniavatar"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def available(self) -> bool:
        from tasks.avatar.omniavatar import omniavatar_available

        return omniavatar_available(self.settings)

    def render(self, job: AvatarJob) -> AvatarInfo:
        from tasks.avatar.omniavatar import render_conversation, render_presenter

        if job.two_presenters:  # one model run per presenter, each in its panel
            return render_conversation(
                self.settings,
                job.background,
                job.speech,
                job.segments,
                job.out,
                size=job.size,
                seed=job.seed,
                scene=job.scene,
                on_reference=job.keep,
                portraits=(job.portrait, job.guest_portrait),
                words=job.words,
                title=job.title,
                caption_style=job.caption_style,
                crf=job.crf,
                preset=job.preset,
                progress=job.progress,
                overlay_options=job.overlay_options(),
            )
        return render_presenter(
            self.settings,
            job.background,
            job.speech,
            job.out,
            size=job.size,
            layout=job.layout,
            portrait=job.portrait,
            seed=job.seed,
            scene=job.scene,
            crf=job.crf,
            preset=job.preset,
            progress=job.progress,
            on_reference=job.keep,
        )

    def describe(self, job: AvatarJob) -> str:
        s = self.settings
        model = "14B" if s.use_14b_model else "1.3B"
        how = "per speaker" if job.two_presenters else f"layout {job.layout}"
        return f"OmniAvatar {model}, {s.num_steps} steps, {how}"


class LiteProvider:
    """The CPU renderer: the presenter (photo or drawn), captions and title in one pass."""

    name = "lite"

    def available(self) -> bool:
        return True

    def render(self, job: AvatarJob) -> AvatarInfo:
        from tasks.avatar.lite import render_lite

        if job.two_presenters:  # host and guest side by side
            from tasks.avatar.duo import render_duo

            return render_duo(
                job.background,
                job.speech,
                job.phonemes,
                job.segments,
                job.out,
                size=job.size,
                fps=job.fps,
                seed=job.seed,
                crf=job.crf,
                preset=job.preset,
                portraits=(job.portrait, job.guest_portrait),
                words=job.words,
                title=job.title,
                caption_style=job.caption_style,
                progress=job.progress,
                overlay_options=job.overlay_options(),
            )
        return render_lite(
            job.background,
            job.speech,
            job.phonemes,
            job.out,
            size=job.size,
            fps=job.fps,
            portrait=job.portrait,
            seed=job.seed,
            crf=job.crf,
            preset=job.preset,
            layout=job.layout,
            words=job.words,
            title=job.title,
            caption_style=job.caption_style,
            progress=job.progress,
            brand=job.brand,
            language=job.language if job.words is not None else None,
            scenes=job.scenes,
            transition=job.transition,
        )

    def describe(self, job: AvatarJob) -> str:
        return "host and guest side by side" if job.two_presenters else f"layout {job.layout}"


def default_providers(settings: Settings) -> list[Any]:
    """OmniAvatar when it is set up on this machine, then the lite renderer (always works)."""
    return [OmniAvatarProvider(settings), LiteProvider()]
