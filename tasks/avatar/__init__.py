"""Avatar stage: the presenter video, lip-synced to the speech."""

from tasks.avatar.lite import AvatarInfo, render_lite

__all__ = ["AvatarInfo", "render_lite"]
