"""The Wan2.1 video diffusion transformer with OmniAvatar's audio injection.

Shapes: B batch, C channels, F latent frames, H×W latent size, S = F·(H/2)·(W/2) tokens,
D = config.dim, L text tokens. Audio arrives as wav2vec2 features at 25 fps,
``(B, 4·(F-1)+1, audio_in_dim)``: one row per video frame of the chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from OmniAvatar.config import OmniAvatarConfig


def sinusoidal_embedding(timesteps: Tensor, dim: int) -> Tensor:
    """(B,) timesteps in [0, 1000] -> (B, dim) embedding, cosines first (Wan's order)."""
    half = dim // 2
    freqs = torch.pow(
        10000.0, -torch.arange(half, dtype=torch.float64, device=timesteps.device) / half
    )
    angles = timesteps.to(torch.float64)[:, None] * freqs[None]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1).float()


def rope_angles(
    head_dim: int, grid: tuple[int, int, int], max_positions: int, device: torch.device
) -> Tensor:
    """Rotary angles for every token of an (F, H, W) grid: (S, head_dim / 2), float32.

    The head dimension is split between frames, height and width as in Wan2.1:
    ``c - 2·(c//3)`` pairs for time, ``c//3`` each for height and width (c = head_dim / 2).
    """
    c = head_dim // 2
    split = (c - 2 * (c // 3), c // 3, c // 3)
    frames, height, width = grid
    if max(grid) > max_positions:
        raise ValueError(f"latent grid {grid} exceeds rope_max_positions={max_positions}")
    axes = []
    for n_pairs, size in zip(split, grid, strict=True):
        inv = 1.0 / torch.pow(
            10000.0,
            torch.arange(0, 2 * n_pairs, 2, dtype=torch.float64, device=device) / (2 * n_pairs),
        )
        axes.append(torch.arange(size, dtype=torch.float64, device=device)[:, None] * inv[None])
    t = axes[0][:, None, None, :].expand(frames, height, width, -1)
    h = axes[1][None, :, None, :].expand(frames, height, width, -1)
    w = axes[2][None, None, :, :].expand(frames, height, width, -1)
    return torch.cat([t, h, w], dim=-1).reshape(frames * height * width, c).float()


def apply_rope(x: Tensor, angles: Tensor) -> Tensor:
    """Rotate adjacent pairs of (B, S, heads, head_dim) by (S, head_dim/2) angles."""
    pairs = x.float().unflatten(-1, (-1, 2))
    cos, sin = angles.cos()[None, :, None, :], angles.sin()[None, :, None, :]
    real = pairs[..., 0] * cos - pairs[..., 1] * sin
    imag = pairs[..., 0] * sin + pairs[..., 1] * cos
    return torch.stack([real, imag], dim=-1).flatten(-2).type_as(x)


class FloatLayerNorm(nn.LayerNorm):
    """LayerNorm computed in float32 whatever the weights' dtype (Wan does the same)."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.float() if self.weight is not None else None
        b = self.bias.float() if self.bias is not None else None
        return F.layer_norm(x.float(), self.normalized_shape, w, b, self.eps).type_as(x)


class FloatRMSNorm(nn.RMSNorm):
    """RMSNorm computed in float32."""

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.float() if self.weight is not None else None
        return F.rms_norm(x.float(), self.normalized_shape, w, self.eps).type_as(x)


class SelfAttention(nn.Module):
    """Multi-head self-attention over all video tokens, RMSNorm on q and k, 3D RoPE."""

    def __init__(self, dim: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = FloatRMSNorm(dim, eps=eps), FloatRMSNorm(dim, eps=eps)

    def forward(self, x: Tensor, angles: Tensor) -> Tensor:
        q = apply_rope(self.norm_q(self.q(x)).unflatten(-1, (self.num_heads, -1)), angles)
        k = apply_rope(self.norm_k(self.k(x)).unflatten(-1, (self.num_heads, -1)), angles)
        v = self.v(x).unflatten(-1, (self.num_heads, -1))
        out = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        )
        return self.o(out.transpose(1, 2).flatten(2))


class CrossAttention(nn.Module):
    """Video tokens attend to the prompt's text tokens."""

    def __init__(self, dim: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        self.norm_q, self.norm_k = FloatRMSNorm(dim, eps=eps), FloatRMSNorm(dim, eps=eps)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        q = self.norm_q(self.q(x)).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
        k = self.norm_k(self.k(context)).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
        v = self.v(context).unflatten(-1, (self.num_heads, -1)).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.o(out.transpose(1, 2).flatten(2))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    """x += gate·SelfAttn(mod(norm(x))); x += CrossAttn(norm(x), text); x += gate·FFN(mod(norm(x)))."""

    def __init__(self, cfg: OmniAvatarConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm1 = FloatLayerNorm(d, eps=cfg.eps, elementwise_affine=False)
        self.self_attn = SelfAttention(d, cfg.num_heads, cfg.eps)
        self.cross_attn_norm = FloatLayerNorm(d, eps=cfg.eps, elementwise_affine=True)
        self.cross_attn = CrossAttention(d, cfg.num_heads, cfg.eps)
        self.norm2 = FloatLayerNorm(d, eps=cfg.eps, elementwise_affine=False)
        self.ffn = FeedForward(d, cfg.ffn_dim)
        # learned offsets added to the timestep's (shift, scale, gate) × (attention, ffn)
        self.modulation = nn.Parameter(torch.randn(1, 6, d) / math.sqrt(d))

    def forward(self, x: Tensor, time_mod: Tensor, context: Tensor, angles: Tensor) -> Tensor:
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = (
            self.modulation.float() + time_mod
        ).unbind(1)
        h = (self.norm1(x).float() * (1 + scale_a[:, None]) + shift_a[:, None]).type_as(x)
        x = (x.float() + self.self_attn(h, angles).float() * gate_a[:, None]).type_as(x)
        x = x + self.cross_attn(self.cross_attn_norm(x), context)
        h = (self.norm2(x).float() * (1 + scale_f[:, None]) + shift_f[:, None]).type_as(x)
        return (x.float() + self.ffn(h).float() * gate_f[:, None]).type_as(x)


class Head(nn.Module):
    """Modulated final norm and the projection back to patch pixels."""

    def __init__(self, cfg: OmniAvatarConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.norm = FloatLayerNorm(d, eps=cfg.eps, elementwise_affine=False)
        self.proj = nn.Linear(d, cfg.out_dim * math.prod(cfg.patch_size))
        self.modulation = nn.Parameter(torch.randn(1, 2, d) / math.sqrt(d))

    def forward(self, x: Tensor, time_emb: Tensor) -> Tensor:
        shift, scale = (self.modulation.float() + time_emb.float()[:, None]).unbind(1)
        return self.proj((self.norm(x).float() * (1 + scale[:, None]) + shift[:, None]).type_as(x))


class MLPEmbedding(nn.Module):
    """fc2(act(fc1(x))): Wan's text (GELU-tanh) and timestep (SiLU) embeddings."""

    def __init__(self, in_dim: int, dim: int, activation: str) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(in_dim, dim), nn.Linear(dim, dim)
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc1(x)
        h = F.gelu(h, approximate="tanh") if self.activation == "gelu" else F.silu(h)
        return self.fc2(h)


class AudioPack(nn.Module):
    """25 fps wav2vec2 features -> one small vector per latent frame.

    The first frame is repeated 3 times so ``4·(F-1)+1`` video frames fill ``F`` groups of 4,
    matching the VAE's causal time stride; each group is flattened (frame-major) and projected.
    """

    def __init__(self, cfg: OmniAvatarConfig) -> None:
        super().__init__()
        self.frames_per_latent = cfg.audio_frames_per_latent
        self.proj = nn.Linear(cfg.audio_in_dim * cfg.audio_frames_per_latent, cfg.audio_hidden_size)
        self.norm = FloatLayerNorm(cfg.audio_hidden_size, eps=1e-5)

    def forward(self, audio: Tensor) -> Tensor:
        n = self.frames_per_latent
        batch, frames, _ = audio.shape
        assert (frames - 1) % n == 0, (
            f"audio has {frames} frames; expected {n}·k+1 (one per video frame)"
        )
        padded = torch.cat([audio[:, :1].expand(-1, n - 1, -1), audio], dim=1)
        grouped = padded.reshape(batch, padded.shape[1] // n, -1)  # (B, F, n·audio_in_dim)
        return self.norm(self.proj(grouped))


@dataclass
class TeaCache:
    """Skips the DiT blocks while the timestep modulation has barely changed (TeaCache).

    The relative L1 change of the modulated timestep input is accumulated from step to step;
    while it stays under ``threshold`` the blocks' last residual is reused. One cache per CFG
    branch, since each branch has its own residual.
    """

    threshold: float
    accumulated: float = 0.0
    previous: Tensor | None = None
    residual: Tensor | None = None
    skipped: int = 0
    computed: int = 0

    def should_compute(self, modulated: Tensor, force: bool) -> bool:
        if self.previous is not None and self.residual is not None and not force:
            prev = self.previous
            self.accumulated += (
                (modulated - prev).abs().mean() / prev.abs().mean().clamp_min(1e-12)
            ).item()
        self.previous = modulated.detach()
        if (
            force
            or self.residual is None
            or self.accumulated >= self.threshold
            or self.threshold <= 0
        ):
            self.accumulated = 0.0
            self.computed += 1
            return True
        self.skipped += 1
        return False


class OmniAvatarDiT(nn.Module):
    """Predicts the flow-matching velocity of the noisy latents of one video chunk."""

    def __init__(self, cfg: OmniAvatarConfig) -> None:
        super().__init__()
        self.config = cfg
        d = cfg.dim
        self.patch_embed = nn.Conv3d(
            cfg.in_dim, d, kernel_size=cfg.patch_size, stride=cfg.patch_size
        )
        self.text_embed = MLPEmbedding(cfg.text_dim, d, "gelu")
        self.time_embed = MLPEmbedding(cfg.freq_dim, d, "silu")
        self.time_modulation = nn.Linear(d, 6 * d)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.num_layers))
        self.head = Head(cfg)
        self.audio_pack = AudioPack(cfg)
        # one linear per audio block; they project the same packed audio into each block's stream
        self.audio_injections = nn.ModuleList(
            nn.Linear(cfg.audio_hidden_size, d) for _ in cfg.audio_blocks
        )

    def audio_tokens(self, packed_audio: Tensor, block: int, tokens_per_frame: int) -> Tensor:
        """(B, F, audio_hidden) -> (B, S, D) for one block: each frame's vector on all its tokens.

        Every sample keeps its own features (the reference reshapes them across the batch).
        """
        per_frame = self.audio_injections[block - self.config.audio_blocks.start](packed_audio)
        return per_frame.repeat_interleave(tokens_per_frame, dim=1)

    def forward(
        self,
        latents: Tensor,
        condition: Tensor,
        timestep: Tensor,
        context: Tensor,
        audio: Tensor | None,
        tea_cache: TeaCache | None = None,
        force_compute: bool = False,
    ) -> Tensor:
        """latents (B, 16, F, H, W), condition (B, 17, F, H, W) reference latents + mask,
        timestep (B,) in [0, 1000], context (B, L, text_dim), audio (B, 4(F-1)+1, audio_in_dim)
        or None -> velocity (B, 16, F, H, W)."""
        cfg = self.config
        batch, _, frames, height, width = latents.shape
        pt, ph, pw = cfg.patch_size
        assert latents.shape[1] == cfg.latent_dim, (
            f"latents have {latents.shape[1]} channels, expected {cfg.latent_dim}"
        )
        assert condition.shape == (batch, cfg.in_dim - cfg.latent_dim, frames, height, width), (
            f"condition {tuple(condition.shape)} must be (B, {cfg.in_dim - cfg.latent_dim}, F, H, W) like latents {tuple(latents.shape)}"
        )
        assert frames % pt == 0 and height % ph == 0 and width % pw == 0, (
            f"latent grid {(frames, height, width)} not divisible by patch {cfg.patch_size}"
        )
        assert timestep.shape == (batch,), f"timestep {tuple(timestep.shape)} must be ({batch},)"
        assert (
            context.ndim == 3 and context.shape[0] == batch and context.shape[2] == cfg.text_dim
        ), f"context {tuple(context.shape)} must be ({batch}, L, {cfg.text_dim})"
        dtype = self.patch_embed.weight.dtype

        # 1. patchify: (B, 33, F, H, W) -> (B, S, D)
        x = self.patch_embed(torch.cat([latents, condition], dim=1).to(dtype))
        grid = (x.shape[2], x.shape[3], x.shape[4])
        x = x.flatten(2).transpose(1, 2)
        tokens_per_frame = grid[1] * grid[2]

        # 2. timestep -> embedding (head) and six modulation vectors per block
        time_emb = self.time_embed(sinusoidal_embedding(timestep, cfg.freq_dim).to(dtype)).float()
        time_mod = (
            self.time_modulation(F.silu(time_emb).to(dtype)).float().unflatten(1, (6, cfg.dim))
        )
        context = self.text_embed(context.to(dtype))
        angles = rope_angles(cfg.head_dim, grid, cfg.rope_max_positions, x.device)

        packed_audio = None
        if audio is not None:
            assert audio.shape == (
                batch,
                cfg.audio_frames_per_latent * (grid[0] - 1) + 1,
                cfg.audio_in_dim,
            ), (
                f"audio {tuple(audio.shape)} must be ({batch}, {cfg.audio_frames_per_latent * (grid[0] - 1) + 1}, {cfg.audio_in_dim})"
            )
            packed_audio = self.audio_pack(audio.to(dtype))

        # 3. blocks, with audio added before blocks 2 .. L/2; TeaCache may reuse their residual
        if tea_cache is not None and not tea_cache.should_compute(time_mod, force_compute):
            assert tea_cache.residual is not None
            x = x + tea_cache.residual
        else:
            x_in = x
            for i, block in enumerate(self.blocks):
                if packed_audio is not None and i in cfg.audio_blocks:
                    x = x + self.audio_tokens(packed_audio, i, tokens_per_frame)
                x = block(x, time_mod, context, angles)
            if tea_cache is not None:
                tea_cache.residual = x - x_in

        # 4. head and unpatchify: (B, S, 16·pt·ph·pw) -> (B, 16, F, H, W)
        out = self.head(x, time_emb)
        f, h, w = grid
        out = out.reshape(batch, f, h, w, pt, ph, pw, cfg.out_dim)
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(
            batch, cfg.out_dim, f * pt, h * ph, w * pw
        )
        return out.float()
