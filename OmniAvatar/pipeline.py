"""Portrait + speech + prompt -> talking video, with the audio-conditioned Wan2.1 DiT.

``OmniAvatarPipeline.__call__`` runs in numbered steps: check inputs → encode text, image and
audio → for each chunk of the video: prepare latents → denoise loop (flow matching, CFG with a
separate audio scale, TeaCache) → decode; long audio is covered by chunks whose first
``overlap_frames`` frames repeat the end of the previous chunk → trim to the audio → free.
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.model import OmniAvatarDiT, TeaCache
from OmniAvatar.offload import plan_resident_blocks

SAMPLE_RATE = 16_000  # wav2vec2's input rate
MAX_AUDIO_SECONDS = 600.0
# (height, width) buckets of the published 480p setting (max_hw 720), chosen by aspect ratio
SIZE_BUCKETS = ((400, 720), (720, 720), (720, 400))
DEFAULT_NEGATIVE_PROMPT = (
    "blurry, low quality, distorted face, deformed hands, extra fingers, static frame, "
    "subtitles, watermark, text"
)

ProgressCallback = Callable[[int, int], None]
COMPONENTS = ("dit", "vae", "text_encoder", "audio_encoder")
DTYPES = {
    "bf16": torch.bfloat16,
    "bfloat16": torch.bfloat16,
    "fp16": torch.float16,
    "float16": torch.float16,
    "fp32": torch.float32,
    "float32": torch.float32,
}


def resolve_dtype(name: str | torch.dtype | None, device: str | torch.device) -> torch.dtype:
    """The DiT/text-encoder dtype: ``auto`` (or None) is bf16 on CUDA and fp32 elsewhere."""
    if isinstance(name, torch.dtype):
        if name not in DTYPES.values():
            raise ValueError(f"dtype must be bf16, fp16 or fp32, got {name}")
        return name
    if name is None or name == "auto":
        return torch.bfloat16 if torch.device(device).type == "cuda" else torch.float32
    if name.lower() not in DTYPES:
        raise ValueError(f"OMNIAVATAR_DTYPE must be auto, bf16, fp16 or fp32, got {name!r}")
    return DTYPES[name.lower()]


@dataclass
class AvatarVideoOutput:
    """Generated videos, one (T, H, W, 3) uint8 array per sample, and what it took."""

    videos: list[np.ndarray]
    fps: int
    dit_calls: int = 0  # DiT forward passes (CFG branches × steps × chunks)
    tea_cache_skips: int = 0  # passes whose blocks TeaCache skipped
    chunks: int = 1

    @property
    def frames(self) -> np.ndarray:
        """The first (usually only) sample's frames."""
        return self.videos[0]


class FlowMatchScheduler:
    """Euler steps of rectified flow: x_σ = (1-σ)·x0 + σ·ε, the model predicts ε - x0.

    σ goes 1 → 0 in ``num_steps`` steps, warped by ``shift`` (σ' = sσ / (1 + (s-1)σ)) so more
    steps are spent at high noise, as in Wan2.1.
    """

    def __init__(self, num_steps: int, shift: float = 5.0) -> None:
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        if shift <= 0:
            raise ValueError(f"shift must be > 0, got {shift}")
        sigmas = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
        self.sigmas = (shift * sigmas / (1 + (shift - 1) * sigmas)).float()
        self.timesteps = self.sigmas[:-1] * 1000

    def step(self, latents: Tensor, velocity: Tensor, index: int) -> Tensor:
        return latents + (self.sigmas[index + 1] - self.sigmas[index]) * velocity


def cfg_passes(guidance_scale: float, audio_scale: float) -> int:
    """DiT passes per step of :meth:`OmniAvatarPipeline.guided_velocity`: 1 without guidance,
    2 when text and audio share a scale, 3 when they differ."""
    if guidance_scale == 1.0 and audio_scale == 1.0:
        return 1
    return 2 if audio_scale == guidance_scale else 3


def choose_size(height: int, width: int) -> tuple[int, int]:
    """The size bucket whose aspect ratio is closest to the portrait's."""
    ratio = math.log(height / width)
    return min(SIZE_BUCKETS, key=lambda hw: abs(math.log(hw[0] / hw[1]) - ratio))


def chunk_plan(num_frames: int, chunk_frames: int, overlap_frames: int) -> list[int]:
    """Start frame of each chunk so that ``chunk_frames``-long chunks, each repeating the last
    ``overlap_frames`` of the previous one, cover ``num_frames``."""
    stride = chunk_frames - overlap_frames
    starts = [0]
    while starts[-1] + chunk_frames < num_frames:
        starts.append(starts[-1] + stride)
    return starts


def _to_image_array(image: Any) -> np.ndarray:
    arr = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or min(arr.shape[:2]) < 8:
        raise ValueError(
            f"image must be an RGB uint8 array (H, W, 3) of at least 8×8 or a PIL image, "
            f"got {arr.dtype} {arr.shape}"
        )
    return arr


def _resize_cover(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale to cover (height, width) and crop the centre."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = max(height / h, width / w)
    nh, nw = max(height, round(h * scale)), max(width, round(w * scale))
    resized = np.asarray(Image.fromarray(image).resize((nw, nh), Image.Resampling.BICUBIC))
    top, left = (nh - height) // 2, (nw - width) // 2
    return resized[top : top + height, left : left + width].copy()


class OmniAvatarPipeline:
    """Text encoder (UMT5), audio encoder (wav2vec2), VAE (Wan2.1) and the audio DiT."""

    def __init__(
        self,
        dit: OmniAvatarDiT,
        vae: Any,
        text_encoder: Any,
        tokenizer: Any,
        audio_encoder: Any,
        *,
        device: str | torch.device = "cpu",
        offload: bool = False,
        resident_params: int | None = None,
        compile: bool = False,
    ) -> None:
        self.dit, self.vae, self.text_encoder = dit, vae, text_encoder
        self.tokenizer, self.audio_encoder = tokenizer, audio_encoder
        self.config: OmniAvatarConfig = dit.config
        self.device = torch.device(device)
        # offload: keep every component in host memory and bring it to the device only while used
        self.offload = offload
        self.dit_calls = 0
        self.latents_mean = torch.tensor(vae.config.latents_mean).view(1, -1, 1, 1, 1)
        self.latents_std = torch.tensor(vae.config.latents_std).view(1, -1, 1, 1, 1)
        # where each component is now: "device" or "host" (the same memory when device is cpu)
        self.residency = dict.fromkeys(COMPONENTS, "host")
        # resident budget: blocks past it keep their weights in host memory and stream in per pass
        self.resident_plan = dit.stream_blocks(resident_params, self.device)
        if compile:
            dit.compile_blocks()
        for name in COMPONENTS:
            self._move(name, "host" if offload else "device")

    @classmethod
    def from_pretrained(
        cls,
        root: str | Path,
        *,
        use_14b: bool = False,
        device: str | torch.device | None = None,
        dtype: torch.dtype | str | None = None,
        offload: bool = False,
        resident_params: int | None = None,
        compile: bool = False,
    ) -> OmniAvatarPipeline:
        """Load the published layout under ``root`` (``pretrained_models``).

        ``dtype``: bf16 / fp16 / fp32 for the DiT and text encoder (auto: bf16 on CUDA, fp32
        otherwise; VAE and wav2vec2 stay fp32). ``offload``: idle components wait in host
        memory. ``resident_params``: DiT parameters kept on the device (None: all); see
        ``OmniAvatar/offload.py``. ``compile``: ``torch.compile`` the DiT blocks. On CUDA a
        ``MemoryError`` is raised before any weight is read when the plan cannot fit.
        """
        import OmniAvatar.loading as loading

        dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dt = resolve_dtype(dtype, dev)
        paths = loading.CheckpointPaths.locate(Path(root), use_14b)
        cfg = loading.read_dit_config(paths, use_14b)
        if dev.type == "cuda":
            free, _ = torch.cuda.mem_get_info(dev)
            others = 0 if offload else _component_bytes(paths, dt)
            check_fits(cfg, dt, free, resident_params, other_bytes=others)
        place = "cpu" if offload else dev
        # a DiT with a budget loads in host memory: only its resident part goes to the device
        dit_place = "cpu" if offload or resident_params is not None else dev
        text_encoder, tokenizer = loading.load_text_encoder(paths.base, dt, place)
        return cls(
            loading.load_dit(paths, cfg, dt, dit_place),
            loading.load_vae(paths.base / "Wan2.1_VAE.pth", torch.float32, place),
            text_encoder,
            tokenizer,
            loading.load_audio_encoder(paths.wav2vec, torch.float32, place),
            device=dev,
            offload=offload,
            resident_params=resident_params,
            compile=compile,
        )

    def _move(self, name: str, where: str) -> None:
        """Put a component on the device or in host memory (the DiT: its resident part)."""
        target = self.device if where == "device" else torch.device("cpu")
        module = getattr(self, name)
        if name == "dit":
            module.place(target)
        else:
            module.to(target)
        self.residency[name] = where

    @contextlib.contextmanager
    def _on_device(self, name: str) -> Iterator[Any]:
        """The component on the compute device for the block; back in host memory after it
        when offloading."""
        if self.offload:
            self._move(name, "device")
        try:
            yield getattr(self, name)
        finally:
            if self.offload:
                self._move(name, "host")
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()

    def release(self) -> None:
        """Free the device: every component to host memory, streamed-block copies dropped,
        the CUDA cache emptied. The pipeline still works afterwards, offloading from then on."""
        if self.dit.streamer is not None:
            self.dit.streamer.reset()
        for name in COMPONENTS:
            self._move(name, "host")
        self.offload = True
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _end_job(self) -> None:
        """After every job, even a failed one: no streamed block left on the device, idle
        components in host memory when offloading, cached device memory returned."""
        if self.dit.streamer is not None:
            self.dit.streamer.reset()
        if self.offload:
            for name, where in self.residency.items():
                if where == "device":
                    self._move(name, "host")
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    # --- encoders ---------------------------------------------------------------------------

    @torch.no_grad()
    def encode_prompts(self, prompts: Sequence[str]) -> Tensor:
        """(B, text_len, text_dim) UMT5 states; positions past each prompt are zero (as Wan)."""
        tokens = self.tokenizer(
            list(prompts),
            padding="max_length",
            max_length=self.config.text_len,
            truncation=True,
            return_tensors="pt",
        )
        with self._on_device("text_encoder") as encoder:
            ids, mask = tokens.input_ids.to(self.device), tokens.attention_mask.to(self.device)
            states = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        return states.float() * mask[..., None]

    @torch.no_grad()
    def encode_audio(self, waveform: np.ndarray, num_frames: int) -> Tensor:
        """(num_frames, audio_in_dim): wav2vec2's last state + all hidden states, one row per
        video frame. The CNN features are resampled to the video frame rate before the
        transformer (as the reference does), through a hook on the feature extractor."""
        wave = torch.as_tensor(waveform, dtype=torch.float32)
        wave = (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-7)

        def to_frames(_module: nn.Module, _inputs: Any, features: Tensor) -> Tensor:
            return F.interpolate(features, size=num_frames, mode="linear", align_corners=True)

        with self._on_device("audio_encoder") as encoder:
            handle = encoder.feature_extractor.register_forward_hook(to_frames)
            try:
                out = encoder(wave[None].to(self.device), output_hidden_states=True)
            finally:
                handle.remove()
        features = torch.cat([out.last_hidden_state, *out.hidden_states], dim=-1)[0].float()
        assert features.shape == (num_frames, self.config.audio_in_dim), (
            f"audio features {tuple(features.shape)} != "
            f"({num_frames}, {self.config.audio_in_dim}): "
            "the wav2vec2 folder does not match the OmniAvatar checkpoint"
        )
        return features

    @torch.no_grad()
    def encode_frames(self, frames: Tensor) -> Tensor:
        """(B, 3, 1+4k, H, W) in [-1, 1] -> normalised latents (B, 16, 1+k, H/8, W/8)."""
        with self._on_device("vae") as vae:
            x = frames.to(self.device, vae.dtype)
            z = vae.encode(x).latent_dist.mode().float()
        return (z - self.latents_mean.to(z.device)) / self.latents_std.to(z.device)

    @torch.no_grad()
    def decode_latents(self, latents: Tensor) -> Tensor:
        """Normalised latents -> (B, 3, 1+4k, H, W) in [-1, 1]."""
        z = latents * self.latents_std.to(latents.device) + self.latents_mean.to(latents.device)
        with self._on_device("vae") as vae:
            frames = vae.decode(z.to(self.device, vae.dtype)).sample
        return frames.float().clamp(-1, 1)

    # --- denoising --------------------------------------------------------------------------

    def _dit(self, *args: Any, **kwargs: Any) -> Tensor:
        self.dit_calls += 1
        return self.dit(*args, **kwargs)

    def guided_velocity(
        self,
        latents: Tensor,
        condition: Tensor,
        timestep: Tensor,
        text: Tensor,
        null_text: Tensor,
        audio: Tensor,
        guidance_scale: float,
        audio_scale: float,
        caches: dict[str, TeaCache | None],
        force: bool,
    ) -> Tensor:
        """Classifier-free guidance: 1 DiT pass without guidance, 2 when text and audio share
        a scale (both dropped together), 3 when they differ:
        v = v(∅,∅) + g_text·(v(text,∅) - v(∅,∅)) + g_audio·(v(text,audio) - v(text,∅))."""
        passes = cfg_passes(guidance_scale, audio_scale)
        null_audio = torch.zeros_like(audio)
        full = self._dit(latents, condition, timestep, text, audio, caches["full"], force)
        if passes == 1:
            return full
        uncond = self._dit(
            latents, condition, timestep, null_text, null_audio, caches["uncond"], force
        )
        if passes == 2:
            return uncond + guidance_scale * (full - uncond)
        no_audio = self._dit(
            latents, condition, timestep, text, null_audio, caches["no_audio"], force
        )
        return uncond + guidance_scale * (no_audio - uncond) + audio_scale * (full - no_audio)

    @torch.no_grad()
    def _denoise(
        self,
        noise: Tensor,
        condition: Tensor,
        fixed: Tensor,
        text: Tensor,
        null_text: Tensor,
        audio: Tensor,
        scheduler: FlowMatchScheduler,
        guidance_scale: float,
        audio_scale: float,
        tea_cache_thresh: float,
        on_step: Callable[[], None],
        tea_cache_coefficients: tuple[float, ...] = (1.0, 0.0),
    ) -> tuple[Tensor, int]:
        """Denoise one chunk; its first ``fixed.shape[2]`` latent frames stay as given."""
        n_fixed = fixed.shape[2]
        latents = noise.clone()
        caches: dict[str, TeaCache | None] = {
            name: TeaCache(tea_cache_thresh, tea_cache_coefficients)
            if tea_cache_thresh > 0
            else None
            for name in ("full", "uncond", "no_audio")
        }
        steps = len(scheduler.timesteps)
        with self._on_device("dit") as dit:
            dtype = next(dit.parameters()).dtype
            for i, t in enumerate(scheduler.timesteps):
                latents[:, :, :n_fixed] = fixed
                timestep = t.expand(latents.shape[0]).to(self.device)
                velocity = self.guided_velocity(
                    latents.to(dtype),
                    condition.to(dtype),
                    timestep,
                    text,
                    null_text,
                    audio,
                    guidance_scale,
                    audio_scale,
                    caches,
                    force=i in (0, steps - 1),
                )
                latents = scheduler.step(latents, velocity.float(), i)
                on_step()
        latents[:, :, :n_fixed] = fixed
        skipped = sum(c.skipped for c in caches.values() if c is not None)
        return latents, skipped

    # --- the pipeline -----------------------------------------------------------------------

    @torch.no_grad()
    def __call__(
        self,
        image: Any | Sequence[Any],
        audio: np.ndarray | Sequence[np.ndarray],
        prompt: str | Sequence[str],
        *,
        negative_prompt: str = DEFAULT_NEGATIVE_PROMPT,
        sample_rate: int = SAMPLE_RATE,
        num_steps: int = 50,
        guidance_scale: float = 4.5,
        audio_scale: float | None = None,
        tea_cache_thresh: float = 0.0,
        tea_cache_coefficients: Sequence[float] | None = None,
        shift: float = 5.0,
        seed: int | Sequence[int] = 0,
        size: tuple[int, int] | None = None,
        fps: int = 25,
        max_tokens: int = 30_000,
        chunk_frames: int | None = None,
        overlap_frames: int = 13,
        callback: ProgressCallback | None = None,
    ) -> AvatarVideoOutput:
        """Generate one video per (image, audio, prompt); lists make a batch.

        ``audio`` is a mono float waveform at ``sample_rate`` (16 kHz). ``audio_scale`` None
        means the same as ``guidance_scale``. ``tea_cache_coefficients`` (highest degree first)
        rescale TeaCache's change measure; None uses the model's (``config.py``). Each video
        has ``ceil(duration · fps)`` frames.
        """
        try:
            return self._generate(
                image,
                audio,
                prompt,
                negative_prompt=negative_prompt,
                sample_rate=sample_rate,
                num_steps=num_steps,
                guidance_scale=guidance_scale,
                audio_scale=audio_scale,
                tea_cache_thresh=tea_cache_thresh,
                tea_cache_coefficients=tea_cache_coefficients,
                shift=shift,
                seed=seed,
                size=size,
                fps=fps,
                max_tokens=max_tokens,
                chunk_frames=chunk_frames,
                overlap_frames=overlap_frames,
                callback=callback,
            )
        finally:
            # 7. free: streamed copies, idle components, cached device memory (also on errors)
            self._end_job()

    def _generate(
        self,
        image: Any | Sequence[Any],
        audio: np.ndarray | Sequence[np.ndarray],
        prompt: str | Sequence[str],
        *,
        negative_prompt: str,
        sample_rate: int,
        num_steps: int,
        guidance_scale: float,
        audio_scale: float | None,
        tea_cache_thresh: float,
        tea_cache_coefficients: Sequence[float] | None,
        shift: float,
        seed: int | Sequence[int],
        size: tuple[int, int] | None,
        fps: int,
        max_tokens: int,
        chunk_frames: int | None,
        overlap_frames: int,
        callback: ProgressCallback | None,
    ) -> AvatarVideoOutput:
        # 1. check inputs
        images = list(image) if isinstance(image, list | tuple) else [image]
        audios = list(audio) if isinstance(audio, list | tuple) else [audio]
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        seeds = [seed] * len(images) if isinstance(seed, int) else list(seed)
        if not len(images) == len(audios) == len(prompts) == len(seeds) >= 1:
            raise ValueError(
                f"need as many images ({len(images)}), audios ({len(audios)}), prompts "
                f"({len(prompts)}) and seeds ({len(seeds)}), at least one"
            )
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"audio must be {SAMPLE_RATE} Hz (wav2vec2's rate), got {sample_rate}")
        waves = [np.asarray(a, dtype=np.float32) for a in audios]
        for i, w in enumerate(waves):
            seconds = w.shape[0] / sample_rate if w.ndim == 1 else 0.0
            if w.ndim != 1 or not 0.05 <= seconds <= MAX_AUDIO_SECONDS:
                raise ValueError(
                    f"audio {i} must be a mono waveform of 0.05–{MAX_AUDIO_SECONDS:.0f} s, "
                    f"got shape {w.shape} ({seconds:.2f} s)"
                )
            if not np.isfinite(w).all():
                raise ValueError(f"audio {i} contains NaN or infinite samples")
        if guidance_scale < 1 or (audio_scale is not None and audio_scale < 1):
            raise ValueError(f"guidance scales must be >= 1, got {guidance_scale}, {audio_scale}")
        if tea_cache_thresh < 0:
            raise ValueError(f"tea_cache_thresh must be >= 0, got {tea_cache_thresh}")
        coefficients = tuple(
            float(c)
            for c in (
                self.config.tea_cache_coefficients
                if tea_cache_coefficients is None
                else tea_cache_coefficients
            )
        )
        if not coefficients or not all(math.isfinite(c) for c in coefficients):
            raise ValueError(
                "tea_cache_coefficients must be finite numbers, highest degree first, got "
                f"{tea_cache_coefficients!r}"
            )
        arrays = [_to_image_array(im) for im in images]
        height, width = size or choose_size(*arrays[0].shape[:2])
        if height % 16 or width % 16:
            raise ValueError(f"size {height}×{width} must be multiples of 16 (VAE 8 × patch 2)")
        cfg, lat_h, lat_w = self.config, height // 8, width // 8
        frame_counts = [math.ceil(w.shape[0] / sample_rate * fps) for w in waves]
        if chunk_frames is None:
            latent_frames = max(2, max_tokens // ((lat_h // 2) * (lat_w // 2)))
            # no longer than the video needs (a short clip at a small size is one short chunk)
            needed = 4 * math.ceil((max(frame_counts) - 1) / 4) + 1
            chunk_frames = min(4 * (latent_frames - 1) + 1, max(needed, overlap_frames + 4))
        if (
            chunk_frames % 4 != 1
            or overlap_frames % 4 != 1
            or not 1 <= overlap_frames < chunk_frames
        ):
            raise ValueError(
                f"chunk_frames ({chunk_frames}) and overlap_frames ({overlap_frames}) must be "
                "1 + 4n with overlap_frames < chunk_frames"
            )
        a_scale = guidance_scale if audio_scale is None else audio_scale
        batch = len(images)
        self.dit_calls = 0

        # 2. encode text (prompts and negative prompts in one visit), reference image and audio
        states = self.encode_prompts([*prompts, *[negative_prompt] * batch]).to(self.device)
        text, null_text = states[:batch], states[batch:]
        refs = torch.stack(
            [
                torch.from_numpy(_resize_cover(a, height, width)).permute(2, 0, 1).float() / 127.5
                - 1
                for a in arrays
            ]
        )[:, :, None]  # (B, 3, 1, H, W)
        ref_latents = self.encode_frames(refs)
        starts = chunk_plan(max(frame_counts), chunk_frames, overlap_frames)
        total_frames = starts[-1] + chunk_frames
        audio_feats = torch.zeros(batch, total_frames, cfg.audio_in_dim)
        for i, (w, n) in enumerate(zip(waves, frame_counts, strict=True)):
            audio_feats[i, :n] = self.encode_audio(w, n).cpu()  # silence pads the last chunk

        # 3. per chunk: prepare latents (noise, reference + mask condition, fixed prefix)
        latent_frames = (chunk_frames - 1) // 4 + 1
        mask = torch.ones(batch, 1, latent_frames, lat_h, lat_w)
        mask[:, :, 0] = 0  # the reference frame, as the published model was trained
        condition = torch.cat([ref_latents.cpu().expand(-1, -1, latent_frames, -1, -1), mask], 1)
        scheduler = FlowMatchScheduler(num_steps, shift)
        total_steps, done = len(starts) * num_steps, 0
        skipped = 0
        pieces: list[Tensor] = []
        fixed = ref_latents
        for c, start in enumerate(starts):
            generators = [torch.Generator().manual_seed(s + 1_000_003 * c) for s in seeds]
            noise = torch.stack(
                [
                    torch.randn(cfg.latent_dim, latent_frames, lat_h, lat_w, generator=g)
                    for g in generators
                ]
            )

            def on_step() -> None:
                nonlocal done
                done += 1
                if callback is not None:
                    callback(done, total_steps)

            # 4. denoise loop
            latents, chunk_skipped = self._denoise(
                noise.to(self.device),
                condition.to(self.device),
                fixed.to(self.device),
                text,
                null_text,
                audio_feats[:, start : start + chunk_frames].to(self.device),
                scheduler,
                guidance_scale,
                a_scale,
                tea_cache_thresh,
                on_step,
                coefficients,
            )
            skipped += chunk_skipped
            # 5. decode; the next chunk starts from this one's last frames
            frames = self.decode_latents(latents).cpu()
            pieces.append(frames if c == 0 else frames[:, :, overlap_frames:])
            if c + 1 < len(starts):
                fixed = self.encode_frames(frames[:, :, -overlap_frames:])

        # 6. trim to each audio's length, to uint8
        video = torch.cat(pieces, dim=2)
        uint8 = ((video + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 4, 1)
        videos = [uint8[i, :n].numpy() for i, n in enumerate(frame_counts)]
        return AvatarVideoOutput(videos, fps, self.dit_calls, skipped, len(starts))


@dataclass
class MemoryPlan:
    """What the DiT keeps on the device, decided before any weight is read."""

    dit_params: int
    bytes_per_param: int
    resident_params: int  # stem + resident blocks
    peak_params: int  # + streamed blocks in flight (current and prefetched)
    resident_blocks: int
    streamed_blocks: int
    device_bytes: int = field(init=False)

    def __post_init__(self) -> None:
        self.device_bytes = self.peak_params * self.bytes_per_param


def check_fits(
    cfg: OmniAvatarConfig,
    dtype: torch.dtype,
    free_bytes: int,
    resident_params: int | None = None,
    activation_bytes: int = 2 << 30,
    other_bytes: int = 0,
) -> MemoryPlan:
    """Raise MemoryError, before loading, when the DiT's device part + ``other_bytes`` (the
    components that stay on the device without offload) + activations exceed ``free_bytes``.

    ``resident_params`` (the published ``num_persistent_param_in_dit``) caps how many DiT
    parameters stay on the device; None keeps them all. Streamed blocks add two blocks in
    flight (the one running and the one being copied).
    """
    blocks = [cfg.block_parameters()] * cfg.num_layers
    plan = plan_resident_blocks(blocks, cfg.num_parameters() - sum(blocks), resident_params)
    size = torch.tensor([], dtype=dtype).element_size()
    memory = MemoryPlan(
        cfg.num_parameters(),
        size,
        plan.resident_params,
        plan.peak_device_params(),
        len(plan.resident_blocks),
        len(plan.streamed_blocks),
    )
    need = memory.device_bytes + other_bytes + activation_bytes
    if need > free_bytes:
        raise MemoryError(
            f"OmniAvatar {cfg.name} needs about {need / 2**30:.1f} GiB on the device "
            f"({memory.device_bytes / 2**30:.1f} GiB of {dtype} DiT weights, "
            f"{memory.resident_blocks} of {cfg.num_layers} blocks resident + "
            f"{other_bytes / 2**30:.1f} GiB text/audio encoders and VAE + "
            f"{activation_bytes / 2**30:.1f} GiB activations) but {free_bytes / 2**30:.1f} GiB is "
            "free: lower OMNIAVATAR_RESIDENT_PARAMS, enable offload (ENABLE_VRAM_MANAGEMENT) or "
            "use the 1.3B model"
        )
    return memory


def _component_bytes(paths: Any, dtype: torch.dtype) -> int:
    """Device bytes of the text encoder (stored bf16, loaded as ``dtype``), VAE and wav2vec2
    (fp32), estimated from their file sizes."""
    size = torch.tensor([], dtype=dtype).element_size()
    t5 = (paths.base / "models_t5_umt5-xxl-enc-bf16.pth").stat().st_size * size // 2
    vae = (paths.base / "Wan2.1_VAE.pth").stat().st_size
    wav = sum(
        f.stat().st_size for f in paths.wav2vec.iterdir() if f.suffix in (".bin", ".safetensors")
    )
    return t5 + vae + wav
