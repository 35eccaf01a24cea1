"""OmniAvatar: audio-driven talking-avatar video diffusion (Wan2.1 DiT + audio + merged LoRA).

``OmniAvatarPipeline.from_pretrained(<pretrained_models>)`` loads the published layout (see
``OmniAvatar/loading.py``) and turns a portrait, a prompt and 16 kHz speech into frames.
diffusers (the Wan VAE) and transformers (UMT5, wav2vec2) are imported only when loading.
"""

from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.pipeline import AvatarVideoOutput, OmniAvatarPipeline, check_fits

__all__ = ["AvatarVideoOutput", "OmniAvatarConfig", "OmniAvatarPipeline", "check_fits"]
