"""The Wan2.1 video diffusion transformer with OmniAvatar's audio injection.

Shapes: B batch, C channels, F latent frames, H×W latent size, S = F·(H/2)·(W/2) tokens,
D = config.dim, L text tokens. Audio arrives as wav2vec2 features at 25 fps,
``(B, 4·(F-1)+1, audio_in_dim)``: one row per video frame of the chunk.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.offload import BlockStreamer, ResidentPlan, plan_resident_blocks
from OmniAvatar.parallel import SequenceParallel

logger = logging.getLogger(__name__)


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
        self.sequence_parallel: SequenceParallel | None = None  # x holds this rank's tokens

    def forward(self, x: Tensor, angles: Tensor) -> Tensor:
        q = apply_rope(self.norm_q(self.q(x)).unflatten(-1, (self.num_heads, -1)), angles)
        k = apply_rope(self.norm_k(self.k(x)).unflatten(-1, (self.num_heads, -1)), angles)
        v = self.v(x).unflatten(-1, (self.num_heads, -1))
        if (sp := self.sequence_parallel) is not None:  # this rank's queries, every rank's keys
            k, v = sp.gather(k, sp.length), sp.gather(v, sp.length)
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
    """x += gate·SelfAttn(mod(norm(x))); x += CrossAttn(norm(x), text);
    x += gate·FFN(mod(norm(x))).
    """

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


def trusted_change(coefficients: Sequence[float]) -> float:
    """Largest raw change the rescale polynomial is trusted for: its last local maximum.

    Fitted quartics rise over the range they were fitted on and then fall steeply (the Wan
    polynomials turn at ≈0.08 and ≈0.07); beyond that point they would report a big change as
    a small one, so a change that large always recomputes. Polynomials without a maximum in
    (0, 1] are trusted everywhere.
    """
    poly = np.polynomial.Polynomial(list(reversed([float(c) for c in coefficients])))
    slope, curve = poly.deriv(), poly.deriv(2)
    roots = [complex(r) for r in slope.roots()]
    maxima = [z.real for z in roots if abs(z.imag) < 1e-9 and 0 < z.real <= 1 and curve(z.real) < 0]
    return max(maxima) if maxima else math.inf


@dataclass
class TeaCache:
    """Skips the DiT blocks while the timestep modulation has barely changed (TeaCache).

    Each step's relative L1 change of the modulated timestep input, ``x = mean|m_t - m_{t-1}|
    / mean|m_{t-1}|``, is rescaled by a polynomial ``P`` fitted to how much the DiT output
    changes for such an ``x`` (``coefficients``, numpy order, highest degree first; ``(1, 0)``
    is the raw change) and accumulated; while the sum stays under ``threshold`` the blocks'
    last residual is reused, and the sum restarts at 0 whenever the blocks run. A change above
    the polynomial's trusted range (:func:`trusted_change`) always runs the blocks. One cache
    per CFG branch, since each branch has its own residual.
    """

    threshold: float
    coefficients: tuple[float, ...] = (1.0, 0.0)
    accumulated: float = 0.0
    previous: Tensor | None = None
    residual: Tensor | None = None
    skipped: int = 0
    computed: int = 0
    last_change: float | None = None  # raw x of the latest step, for inspection
    max_change: float = field(init=False)

    def __post_init__(self) -> None:
        self.coefficients = tuple(float(c) for c in self.coefficients)
        self.max_change = trusted_change(self.coefficients)

    def rescale(self, change: float) -> float:
        """P(x): the expected relative change of the DiT output."""
        value = 0.0
        for c in self.coefficients:  # Horner
            value = value * change + c
        return value

    def should_compute(self, modulated: Tensor, force: bool) -> bool:
        beyond_fit = False
        if self.previous is not None and self.residual is not None and not force:
            prev = self.previous
            change = ((modulated - prev).abs().mean() / prev.abs().mean().clamp_min(1e-12)).item()
            self.last_change = change
            beyond_fit = change > self.max_change
            self.accumulated += self.rescale(change)
        self.previous = modulated.detach()
        if (
            force
            or beyond_fit
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
        self.streamer: BlockStreamer | None = None  # set by stream_blocks()
        self.sequence_parallel: SequenceParallel | None = None  # set by enable_sequence_parallel()
        self.compiled = False
        self.compile_error: str | None = None  # why torch.compile fell back to eager, if it did

    # --- memory and speed ---------------------------------------------------------------------

    def resident_plan(self, budget: int | None) -> ResidentPlan:
        """Which blocks stay on the device under a budget of ``budget`` DiT parameters."""
        blocks = [sum(p.numel() for p in b.parameters()) for b in self.blocks]
        total = sum(p.numel() for p in self.parameters())
        return plan_resident_blocks(blocks, total - sum(blocks), budget)

    def stream_blocks(self, budget: int | None, device: str | torch.device) -> ResidentPlan:
        """Keep at most ``budget`` DiT parameters on ``device``; the other blocks stay in host
        memory and stream in per pass. None keeps all resident (and stops streaming).
        Call :meth:`place` afterwards to put the resident part on the device."""
        if self.streamer is not None:
            self.streamer.reset()
            self.streamer = None
        plan = self.resident_plan(budget)
        if plan.streamed_blocks:
            self.streamer = BlockStreamer(self.blocks, plan, torch.device(device))
        return plan

    def place(self, device: str | torch.device) -> None:
        """Move the resident part to ``device``; streamed blocks stay in host memory."""
        streamed = set(self.streamer.streamed) if self.streamer is not None else set()
        for name, child in self.named_children():
            if name != "blocks":
                child.to(device)
        for i, block in enumerate(self.blocks):
            if i not in streamed:
                block.to(device)

    def enable_sequence_parallel(self, sp: SequenceParallel | None) -> None:
        """Work on ``sp``'s slice of the tokens from now on (None: all tokens, one process);
        see ``OmniAvatar/distributed.py``."""
        self.sequence_parallel = sp
        for block in self.blocks:
            block.self_attn.sequence_parallel = sp  # type: ignore[union-attr]

    def compile_blocks(self, **options: Any) -> None:
        """``torch.compile`` every block in place (parameter names unchanged). Compiling
        happens at the first pass; if it fails there the blocks run eagerly, with a warning
        and the reason in ``compile_error``."""
        for block in self.blocks:
            block.compile(**options)
        self.compiled, self.compile_error = True, None

    def uncompile_blocks(self) -> None:
        for block in self.blocks:
            block._compiled_call_impl = None  # what nn.Module.compile() set: back to eager
        self.compiled = False

    def _run_block(self, i: int, block: nn.Module, *args: Tensor) -> Tensor:
        if self.streamer is not None:
            self.streamer.before_block(i)
        try:
            if self.compiled:
                try:
                    return block(*args)
                except torch.OutOfMemoryError:
                    raise
                except Exception as e:  # a compiler or backend failure: eager still works
                    self.compile_error = " ".join(f"{type(e).__name__}: {e}".split())[:500]
                    logger.warning(
                        "torch.compile failed on the DiT blocks (%s); running them eagerly",
                        self.compile_error,
                    )
                    self.uncompile_blocks()
            return block(*args)
        finally:
            if self.streamer is not None:
                self.streamer.after_block(i)

    def timestep_modulation(self, timestep: Tensor) -> tuple[Tensor, Tensor]:
        """(B,) timesteps -> the head's embedding (B, D) and the blocks' modulation (B, 6, D),
        both float32 (TeaCache compares the modulation from step to step)."""
        cfg = self.config
        dtype = self.patch_embed.weight.dtype
        time_emb = self.time_embed(sinusoidal_embedding(timestep, cfg.freq_dim).to(dtype)).float()
        time_mod = (
            self.time_modulation(F.silu(time_emb).to(dtype)).float().unflatten(1, (6, cfg.dim))
        )
        return time_emb, time_mod

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
            f"condition {tuple(condition.shape)} must be "
            f"(B, {cfg.in_dim - cfg.latent_dim}, F, H, W) like latents {tuple(latents.shape)}"
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
        time_emb, time_mod = self.timestep_modulation(timestep)
        context = self.text_embed(context.to(dtype))
        angles = rope_angles(cfg.head_dim, grid, cfg.rope_max_positions, x.device)

        packed_audio = None
        if audio is not None:
            assert audio.shape == (
                batch,
                cfg.audio_frames_per_latent * (grid[0] - 1) + 1,
                cfg.audio_in_dim,
            ), (
                f"audio {tuple(audio.shape)} must be "
                f"({batch}, {cfg.audio_frames_per_latent * (grid[0] - 1) + 1}, "
                f"{cfg.audio_in_dim})"
            )
            packed_audio = self.audio_pack(audio.to(dtype))

        # several ranks: each keeps its slice of the tokens (and of their rotary angles)
        sp = self.sequence_parallel
        if sp is not None:
            sp.length = x.shape[1]
            x, angles = sp.split(x), sp.split(angles, dim=0)

        # 3. blocks, with audio added before blocks 2 .. L/2; TeaCache may reuse their residual
        if tea_cache is not None and not tea_cache.should_compute(time_mod, force_compute):
            assert tea_cache.residual is not None
            x = x + tea_cache.residual
        else:
            x_in = x
            try:
                for i, block in enumerate(self.blocks):
                    if packed_audio is not None and i in cfg.audio_blocks:
                        audio_in = self.audio_tokens(packed_audio, i, tokens_per_frame)
                        x = x + (audio_in if sp is None else sp.split(audio_in))
                    x = self._run_block(i, block, x, time_mod, context, angles)
            except BaseException:
                if self.streamer is not None:  # no prefetched block left on the device
                    self.streamer.reset()
                raise
            if tea_cache is not None:
                tea_cache.residual = x - x_in

        # 4. head and unpatchify: (B, S, 16·pt·ph·pw) -> (B, 16, F, H, W)
        out = self.head(x, time_emb)
        if sp is not None:  # every rank gets the whole velocity
            out = sp.gather(out, sp.length)
        f, h, w = grid
        out = out.reshape(batch, f, h, w, pt, ph, pw, cfg.out_dim)
        out = out.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(
            batch, cfg.out_dim, f * pt, h * ph, w * pw
        )
        return out.float()
