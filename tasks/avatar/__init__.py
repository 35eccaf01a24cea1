"""Avatar stage: the presenter video, lip-synced to the speech."""

from tasks.avatar.lite import LAYOUTS, AvatarInfo, render_lite

__all__ = ["LAYOUTS", "AvatarInfo", "render_lite"]
