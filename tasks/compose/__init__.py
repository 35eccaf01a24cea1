"""Compose stage: captions, title and loudness over the avatar video."""

from tasks.compose.captions import Caption, build_captions, to_srt, to_vtt
from tasks.compose.video import ComposeInfo, compose_final

__all__ = ["Caption", "ComposeInfo", "build_captions", "compose_final", "to_srt", "to_vtt"]
