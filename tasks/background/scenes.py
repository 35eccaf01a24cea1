"""One background per scene of an explainer, from the same provider chain as a single video.

Each scene's description is made into an image by the provider (one Flux prediction per
scene, or a procedural backdrop). Procedural scenes take consecutive palettes, so two
neighbouring scenes never look alike even when their descriptions hash to one palette. When a
provider fails part-way, the chain's next provider makes every scene, so an explainer never
mixes two looks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from novaavatar.domain import ScriptScene
from tasks.background import (
    _PALETTES,
    BackgroundProvider,
    ProceduralBackgroundProvider,
    procedural_background,
    seed_for,
)


def scene_seed(first: int, index: int, seed: int) -> int:
    """A procedural seed for scene ``index`` whose palette follows the first scene's in turn."""
    palette = (first + index) % len(_PALETTES)
    return seed - seed % len(_PALETTES) + palette


def make_scene_backgrounds(
    provider: BackgroundProvider,
    scenes: Sequence[ScriptScene],
    keywords: tuple[str, ...],
    size: tuple[int, int],
    workdir: Path,
    variant: int = 0,
) -> list[tuple[Path, int]]:
    """Write one image per scene under ``workdir``; return (path, seed) per scene in order."""
    out: list[tuple[Path, int]] = []
    first = seed_for(scenes[0].scene_description, keywords, size, variant) if scenes else 0
    for i, scene in enumerate(scenes):
        path = workdir / f"background-scene{i}.png"
        prompt = scene.scene_description or scene.title or scene.text[:200]
        if isinstance(provider, ProceduralBackgroundProvider):
            seed = scene_seed(first, i, seed_for(prompt, keywords, size, variant))
            path.parent.mkdir(parents=True, exist_ok=True)
            procedural_background(seed, size).save(path, format="PNG", optimize=False)
        else:
            seed = provider.make(prompt, keywords, size, path, variant=variant)
        out.append((path, seed))
    return out
