"""Model configuration: the Wan2.1 video DiT with OmniAvatar's audio conditioning and LoRA."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# wav2vec2-base: 768 hidden × (12 layers + the embedding output + the last hidden state again)
WAV2VEC2_BASE_FEATURES = 768 * 14

# TeaCache rescale polynomials (numpy order, highest degree first) mapping the relative L1
# change of the timestep modulation to the expected change of the DiT output. These are the
# values publicly reported for the Wan2.1 text-to-video DiTs by the TeaCache authors
# (Liu et al., "Timestep Embedding Tells: It's Time to Cache for Video Diffusion Model",
# arXiv:2411.19108; github.com/ali-vilab/TeaCache, TeaCache4Wan2.1) and reused by
# DiffSynth-Studio's Wan pipeline, on which the OmniAvatar reference builds. OmniAvatar's LoRA
# does not touch the modulation path, but its outputs differ from Wan T2V's: refit with
# bench/calibrate_teacache.py on the real weights for a calibrated threshold.
TEA_CACHE_WAN_1_3B = (-5.21862437e04, 9.23041404e03, -5.28275948e02, 1.36987616e01, -4.99875664e-02)
TEA_CACHE_WAN_14B = (-3.03318725e05, 4.90537029e04, -2.65530556e03, 5.87365115e01, -3.15583525e-01)
TEA_CACHE_IDENTITY = (1.0, 0.0)  # the raw relative L1 change, uncalibrated


@dataclass(frozen=True)
class OmniAvatarConfig:
    """Shapes of the audio-conditioned DiT. Defaults are the published 1.3B model."""

    dim: int = 1536  # transformer width
    num_layers: int = 30  # DiT blocks
    num_heads: int = 12  # attention heads; head_dim = dim / num_heads
    ffn_dim: int = 8960  # hidden width of each block's feed-forward network
    latent_dim: int = 16  # VAE latent channels (Wan2.1 VAE z_dim)
    in_dim: int = 33  # 16 noisy latents + 16 reference-image latents + 1 mask
    out_dim: int = 16  # predicted velocity, one per latent channel
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (frames, height, width) per token
    text_dim: int = 4096  # UMT5-XXL hidden size
    text_len: int = 512  # prompt tokens (padded with zeros)
    freq_dim: int = 256  # sinusoidal timestep embedding size
    eps: float = 1e-6  # norms
    audio_in_dim: int = WAV2VEC2_BASE_FEATURES  # wav2vec2 features per 25 fps frame
    audio_hidden_size: int = 32  # audio projection width before the per-block linears
    audio_frames_per_latent: int = 4  # video frames packed into one latent frame (VAE stride)
    lora_rank: int = 128  # merged into the base weights at load time
    lora_alpha: float = 64.0
    rope_max_positions: int = 1024  # per axis
    name: str = field(default="1.3B", compare=False)
    # TeaCache rescale polynomial for these exact weights; identity for any other shapes
    tea_cache_coefficients: tuple[float, ...] = field(default=TEA_CACHE_IDENTITY, compare=False)

    def __post_init__(self) -> None:
        for name in (
            "dim",
            "num_layers",
            "num_heads",
            "ffn_dim",
            "latent_dim",
            "text_dim",
            "text_len",
            "freq_dim",
            "audio_in_dim",
            "audio_hidden_size",
            "audio_frames_per_latent",
            "lora_rank",
            "rope_max_positions",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"OmniAvatarConfig.{name} must be a positive int, got {value!r}")
        if self.dim % self.num_heads:
            raise ValueError(
                f"OmniAvatarConfig.dim ({self.dim}) must be divisible by "
                f"num_heads ({self.num_heads})"
            )
        if self.head_dim % 2 or self.head_dim < 6:
            raise ValueError(
                f"head_dim = dim / num_heads = {self.head_dim} must be even and >= 6 "
                "(3D RoPE splits it across frames, height and width)"
            )
        if self.in_dim != 2 * self.latent_dim + 1:
            raise ValueError(
                f"OmniAvatarConfig.in_dim must be 2 * latent_dim + 1 = {2 * self.latent_dim + 1} "
                f"(noise + reference latents + mask), got {self.in_dim}"
            )
        if self.out_dim != self.latent_dim:
            raise ValueError(
                f"OmniAvatarConfig.out_dim must equal latent_dim ({self.latent_dim}), "
                f"got {self.out_dim}"
            )
        if len(self.patch_size) != 3 or any(p <= 0 for p in self.patch_size):
            raise ValueError(
                f"OmniAvatarConfig.patch_size must be 3 positive ints, got {self.patch_size!r}"
            )
        if self.num_layers < 4:
            raise ValueError(
                "OmniAvatarConfig.num_layers must be >= 4 "
                "(audio enters blocks 2 .. num_layers/2), "
                f"got {self.num_layers}"
            )
        if self.lora_alpha <= 0:
            raise ValueError(f"OmniAvatarConfig.lora_alpha must be > 0, got {self.lora_alpha}")
        coefficients = self.tea_cache_coefficients
        if not coefficients or not all(
            isinstance(c, int | float) and math.isfinite(c) for c in coefficients
        ):
            raise ValueError(
                "OmniAvatarConfig.tea_cache_coefficients must be finite numbers, highest degree "
                f"first, got {coefficients!r}"
            )

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads

    @property
    def audio_blocks(self) -> range:
        """Indices of the blocks that receive audio features: 2 .. num_layers // 2 inclusive."""
        return range(2, self.num_layers // 2 + 1)

    @property
    def lora_scale(self) -> float:
        return self.lora_alpha / self.lora_rank

    def replace(self, **changes: Any) -> OmniAvatarConfig:
        return dataclasses.replace(self, **changes)

    def block_parameters(self) -> int:
        """Parameters of one DiT block: self- and cross-attention, norm3, FFN, modulation."""
        d, f = self.dim, self.ffn_dim
        attn = 4 * (d * d + d) + 2 * d  # q, k, v, o + RMSNorm on q and k
        return 2 * attn + 2 * d + (d * f + f + f * d + d) + 6 * d

    def num_parameters(self) -> int:
        """Parameters of the DiT (LoRA merged), for memory planning before anything loads."""
        d, p = self.dim, self.patch_size[0] * self.patch_size[1] * self.patch_size[2]
        block = self.block_parameters()
        audio = (self.audio_in_dim * self.audio_frames_per_latent + 1) * self.audio_hidden_size
        audio += (
            2 * self.audio_hidden_size + len(self.audio_blocks) * (self.audio_hidden_size + 1) * d
        )
        return (
            self.in_dim * p * d
            + d  # patch embedding
            + self.text_dim * d
            + d
            + d * d
            + d  # text embedding
            + self.freq_dim * d
            + d
            + d * d
            + d  # time embedding
            + d * 6 * d
            + 6 * d  # time modulation
            + self.num_layers * block
            + 2 * d
            + d * self.out_dim * p
            + self.out_dim * p  # head
            + audio
        )

    @classmethod
    def wan_1_3b(cls) -> OmniAvatarConfig:
        """Wan2.1-T2V-1.3B + OmniAvatar-1.3B."""
        return cls(tea_cache_coefficients=TEA_CACHE_WAN_1_3B)

    @classmethod
    def wan_14b(cls) -> OmniAvatarConfig:
        """Wan2.1-T2V-14B + OmniAvatar-14B."""
        return cls(
            dim=5120,
            num_layers=40,
            num_heads=40,
            ffn_dim=13824,
            name="14B",
            tea_cache_coefficients=TEA_CACHE_WAN_14B,
        )

    @classmethod
    def tiny(cls, **changes: Any) -> OmniAvatarConfig:
        """Six small layers (audio enters blocks 2 and 3) for CPU tests; audio features match a
        2-layer, 8-wide wav2vec2.
        """
        base = cls(
            dim=32,
            num_layers=6,
            num_heads=2,
            ffn_dim=64,
            text_dim=16,
            text_len=8,
            freq_dim=16,
            audio_in_dim=8 * 4,
            audio_hidden_size=8,
            lora_rank=4,
            lora_alpha=2.0,
            name="tiny",
        )
        return base.replace(**changes) if changes else base
