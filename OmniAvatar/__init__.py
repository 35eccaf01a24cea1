"""OmniAvatar: audio-driven talking-avatar video diffusion (Wan2.1 + audio + LoRA).

The model package is filled in by its own issue; until then the avatar stage uses the lite
CPU renderer in ``tasks.avatar.lite``.
"""
