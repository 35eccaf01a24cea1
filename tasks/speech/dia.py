"""Dia (Nari Labs) through ``transformers``: a local, free voice with optional voice cloning.

The model and processor load lazily from ``DIA_MODEL_PATH`` (the published checkpoint's
layout: ``config.json``, ``generation_config.json``, ``model.safetensors``, the processor
and tokenizer configs) and never from the network. The DAC codec the processor names is
loaded from a local folder: ``DIA_CODEC_PATH``, a path the processor config names, or the
Hugging Face cache. An audio prompt (a reference clip + its transcript) keeps one voice
across a video; without one, the first chunk's audio becomes the prompt for the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from novaavatar.errors import InputError, ProviderError
from tasks.speech.align import align_output, alignment_voice
from tasks.speech.audio import (
    MAX_SPEED,
    MIN_SPEED,
    change_speed,
    join_segments,
    native_wav_path,
    normalize_loudness,
    split_sentences,
    trim_silence,
)
from tasks.speech.output import SpeechOutput, write_wav_16k

log = logging.getLogger("novaavatar.speech.dia")

DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "float32", "float16", "bfloat16")
REFERENCE_MIN_S = 1.0
REFERENCE_MAX_S = 20.0  # ~1700 of the published model's 3072 frames; the rest is for speech
SELF_PROMPT_MAX_S = 10.0  # a first chunk this short becomes the voice prompt for the rest
BASE_WPM = 165  # the pipeline's speed is in eSpeak words per minute; Dia's natural pace


@dataclass(frozen=True)
class DiaOptions:
    """How Dia is loaded and sampled; defaults are Nari Labs' published generation settings."""

    model_path: Path
    codec_path: Path | None = None  # local DAC folder when the checkpoint names a Hub id
    device: str = "auto"  # auto: cuda, then mps, then cpu
    dtype: str = "auto"  # auto: bfloat16 on a GPU that has it, else float32
    seed: int = 0  # same text + seed + voice → same audio
    guidance_scale: float = 3.0  # classifier-free guidance (1 turns it off)
    temperature: float = 1.8
    top_p: float = 0.90
    top_k: int = 45
    max_new_tokens: int = 3072  # decoder steps cap; the script's length sets the real budget
    max_chunk_chars: int = 250  # ~15 s: Dia drifts on longer turns, so scripts are split
    reference_audio: Path | None = None  # 5–15 s of the voice to clone
    reference_text: str = ""  # what the reference clip says
    align_voice: str = "en-us"  # eSpeak voice whose timings are warped onto Dia's audio

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"DIA_DEVICE={self.device!r}: choose one of {', '.join(DEVICES)}")
        if self.dtype not in DTYPES:
            raise ValueError(f"DIA_DTYPE={self.dtype!r}: choose one of {', '.join(DTYPES)}")
        if not 1.0 <= self.guidance_scale <= 10.0:
            raise ValueError(f"DIA guidance_scale={self.guidance_scale}: allowed 1–10")
        if not 0.0 < self.temperature <= 3.0:
            raise ValueError(f"DIA temperature={self.temperature}: allowed (0, 3]")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"DIA top_p={self.top_p}: allowed (0, 1]")
        if self.top_k < 1 or self.max_new_tokens < 24 or self.max_chunk_chars < 40:
            raise ValueError(
                f"DIA top_k={self.top_k}, max_new_tokens={self.max_new_tokens}, "
                f"max_chunk_chars={self.max_chunk_chars}: need ≥ 1, ≥ 24 and ≥ 40"
            )
        if (self.reference_audio is None) != (not self.reference_text.strip()):
            raise ValueError(
                "DIA_REFERENCE_AUDIO and DIA_REFERENCE_TEXT go together: give the clip and "
                "the words it says, or neither"
            )


@dataclass
class LoadedDia:
    """A loaded model + processor and the facts generation needs about them."""

    model: Any
    processor: Any
    device: str
    dtype: str
    sample_rate: int  # the codec's native rate (44.1 kHz for the published model)
    frame_rate: float  # audio tokens per second
    max_positions: int  # decoder length limit: prompt + generated frames + delays
    max_delay: int


_cache: dict[tuple[str, str, str, str], LoadedDia] = {}
_failures: dict[tuple[str, str, str, str], str] = {}
_load_lock = threading.Lock()
_generate_lock = threading.Lock()  # one generation at a time per process: it fills the device


def _pick_device(device: str) -> str:
    import torch

    if device != "auto":
        if device == "cuda" and not torch.cuda.is_available():
            raise ProviderError("DIA_DEVICE=cuda but no CUDA GPU is visible: use cpu or auto")
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _pick_dtype(dtype: str, device: str) -> str:
    import torch

    if dtype != "auto":
        return dtype
    if device == "cuda" and torch.cuda.is_bf16_supported():
        return "bfloat16"
    return "float32"


def _codec_reference(model_path: Path) -> str | None:
    """The DAC location the processor config names (a Hub id or a folder)."""
    for name in ("processor_config.json", "audio_tokenizer_config.json"):
        f = model_path / name
        if f.is_file():
            data = json.loads(f.read_text())
            ref = data.get("audio_tokenizer", data).get("audio_tokenizer_name_or_path")
            if ref:
                return str(ref)
    return None


def _load_processor(model_path: Path, codec_path: Path | None) -> Any:
    from transformers import DacModel, DiaFeatureExtractor, DiaProcessor, DiaTokenizer

    ref = _codec_reference(model_path)
    if codec_path is None and ref and not Path(ref).is_absolute() and (model_path / ref).is_dir():
        codec_path = model_path / ref  # a codec folder shipped beside the checkpoint
    if codec_path is None:
        # the named codec: an absolute folder, or a Hub id already in the local cache
        return DiaProcessor.from_pretrained(model_path, local_files_only=True)
    return DiaProcessor(
        feature_extractor=DiaFeatureExtractor.from_pretrained(model_path, local_files_only=True),
        tokenizer=DiaTokenizer.from_pretrained(model_path, local_files_only=True),
        audio_tokenizer=DacModel.from_pretrained(codec_path, local_files_only=True),
    )


def load_dia(options: DiaOptions) -> LoadedDia:
    """Load (once per process) the model and processor ``options`` describe."""
    device = _pick_device(options.device)
    dtype = _pick_dtype(options.dtype, device)
    key = (str(options.model_path), str(options.codec_path), device, dtype)
    with _load_lock:
        if key in _cache:
            return _cache[key]
        if key in _failures:
            raise ProviderError(_failures[key])
        try:
            loaded = _load(options.model_path, options.codec_path, device, dtype)
        except Exception as e:
            msg = (
                f"Dia model at {options.model_path} could not be loaded ({type(e).__name__}: "
                f"{str(e)[:300]}); expected the published checkpoint layout, and a local DAC "
                "codec (DIA_CODEC_PATH) when its processor config names a Hub id"
            )
            _failures[key] = msg
            raise ProviderError(msg) from e
        _cache[key] = loaded
        return loaded


def _load(model_path: Path, codec_path: Path | None, device: str, dtype: str) -> LoadedDia:
    import torch
    from transformers import DiaForConditionalGeneration

    if not (model_path / "config.json").is_file():
        raise FileNotFoundError(f"{model_path / 'config.json'} is missing")
    model: Any = DiaForConditionalGeneration.from_pretrained(
        model_path, dtype=getattr(torch, dtype), local_files_only=True
    )
    model.to(device).eval()
    processor = _load_processor(model_path, codec_path)
    codec = processor.audio_tokenizer
    codec.to(device).eval()  # the codec stays float32: it shapes the waveform
    rate = int(processor.feature_extractor.sampling_rate)
    hop = math.prod(codec.config.downsampling_ratios)
    return LoadedDia(
        model=model,
        processor=processor,
        device=device,
        dtype=dtype,
        sample_rate=rate,
        frame_rate=rate / hop,
        max_positions=int(model.config.decoder_config.max_position_embeddings),
        max_delay=max(model.config.delay_pattern),
    )


@dataclass(frozen=True)
class DiaSpeech:
    samples: np.ndarray  # float32 mono at ``sample_rate``
    sample_rate: int
    tokens: int  # audio frames generated (for tokens/s)
    chunks: int


def _with_speaker(text: str) -> str:
    text = " ".join(text.split())
    return text if text.startswith(("[S1]", "[S2]")) else f"[S1] {text}"


def _voice_seed(seed: int, voice: str) -> int:
    """A regenerated take asks for another voice ("en-us+m3"): give it another seed."""
    variant = voice.partition("+")[2]
    if not variant:
        return seed
    return seed + int(hashlib.sha256(variant.encode()).hexdigest()[:6], 16)


class DiaProvider:
    """Dia through transformers; timings come from aligning eSpeak's onto its audio."""

    name = "dia"

    def __init__(self, options: DiaOptions | None) -> None:
        self.options = options

    def available(self) -> bool:
        return self.options is not None and (self.options.model_path / "config.json").is_file()

    def _options(self) -> DiaOptions:
        if self.options is None:
            raise ProviderError("Dia is not configured: set DIA_MODEL_PATH to a local checkpoint")
        return self.options

    def load(self) -> LoadedDia:
        return load_dia(self._options())

    def reference(self, loaded: LoadedDia) -> tuple[np.ndarray, str] | None:
        """The cloning prompt at the codec's rate, checked: (samples, transcript)."""
        opts = self._options()
        if opts.reference_audio is None:
            return None
        from novaavatar.media import read_audio

        clip = read_audio(opts.reference_audio, loaded.sample_rate, max_seconds=REFERENCE_MAX_S)
        seconds = clip.size / loaded.sample_rate
        if seconds < REFERENCE_MIN_S:
            raise InputError(
                f"reference audio {opts.reference_audio} lasts {seconds:.1f} s: give 5–15 s "
                "of the voice to clone"
            )
        return trim_silence(clip, loaded.sample_rate).samples, _with_speaker(opts.reference_text)

    def synthesize(
        self, text: str, *, voice: str = "", speed_factor: float = 1.0, max_new_tokens: int = 0
    ) -> DiaSpeech:
        """Speak ``text`` (split at sentences when long) at the codec's native rate."""
        opts = self._options()
        words = text.split()
        if not words:
            raise InputError("text to speak is empty: give at least one word")
        loaded = self.load()
        prompt = self.reference(loaded)
        seed = _voice_seed(opts.seed, voice)
        rate = loaded.sample_rate
        pieces: list[np.ndarray] = []
        tokens = 0
        chunks = split_sentences(text, opts.max_chunk_chars)
        for i, chunk in enumerate(chunks):
            audio, n = self._generate(loaded, chunk, prompt, seed + i, max_new_tokens)
            tokens += n
            trimmed = trim_silence(audio, rate).samples
            if trimmed.size == 0:
                raise ProviderError(f"Dia produced only silence for chunk {i + 1}: {chunk[:60]!r}")
            pieces.append(trimmed)
            if prompt is None and len(chunks) > 1 and trimmed.size <= SELF_PROMPT_MAX_S * rate:
                prompt = (trimmed, _with_speaker(chunk))  # the rest of the video keeps this voice
        joined, _ = join_segments(pieces, rate, pause_s=0.2)
        if abs(speed_factor - 1.0) > 0.02:
            joined = change_speed(joined, rate, min(MAX_SPEED, max(MIN_SPEED, speed_factor)))
        joined = normalize_loudness(joined, rate)
        return DiaSpeech(joined, rate, tokens, len(chunks))

    def _budget(self, loaded: LoadedDia, text: str, prompt_frames: int, cap: int) -> int:
        """Decoder steps for ``text``: 1.6x its expected length plus a second, plus the delay
        pattern's tail (generate needs ``max_delay + 1`` steps before any frame is complete)."""
        expected_s = len(text.split()) / (BASE_WPM / 60.0)
        frames = int((expected_s * 1.6 + 1.0) * loaded.frame_rate)
        tail = loaded.max_delay + 1
        limit = loaded.max_positions - prompt_frames - tail - 1
        if limit < 8:
            raise InputError(
                f"the Dia reference clip fills the model's {loaded.max_positions}-frame window: "
                "use a shorter clip (5–15 s)"
            )
        steps = min(frames + tail, cap or self._options().max_new_tokens, limit + tail)
        return max(steps, tail + 8)

    def _generate(
        self,
        loaded: LoadedDia,
        chunk: str,
        prompt: tuple[np.ndarray, str] | None,
        seed: int,
        cap: int,
    ) -> tuple[np.ndarray, int]:
        import torch

        opts = self._options()
        proc = loaded.processor
        text = _with_speaker(chunk)
        if prompt is not None:
            text = f"{prompt[1]} {text}"
            with warnings.catch_warnings():  # the tokenizer's max_length note is noise here
                warnings.filterwarnings("ignore", message=".*max_length.*is ignored")
                # padding=True: the processor pads the clip to whole codec frames
                inputs = proc(
                    text=[text],
                    audio=[prompt[0]],
                    sampling_rate=loaded.sample_rate,
                    padding=True,
                    return_tensors="pt",
                )
            prompt_len = proc.get_audio_prompt_len(inputs["decoder_attention_mask"])
        else:
            inputs = proc(text=[text], padding=False, return_tensors="pt")
            prompt_len = None
        inputs = inputs.to(loaded.device)
        budget = self._budget(loaded, chunk, prompt_len or 0, cap)
        with _generate_lock, torch.inference_mode(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if loaded.device == "cuda":
                torch.cuda.manual_seed_all(seed)
            out = loaded.model.generate(
                **inputs,
                max_new_tokens=budget,
                guidance_scale=opts.guidance_scale,
                temperature=opts.temperature,
                top_p=opts.top_p,
                top_k=opts.top_k,
                do_sample=True,
            )
            audio = proc.batch_decode(out, audio_prompt_len=prompt_len)[0]
        samples = audio.detach().float().cpu().numpy().reshape(-1).astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise ProviderError("Dia produced non-finite audio samples: try DIA_DTYPE=float32")
        steps = int(out.shape[1]) - int(inputs["decoder_input_ids"].shape[1])
        return samples, max(steps, 0)

    def speak(self, text: str, voice: str, speed: int, out_wav: Path) -> SpeechOutput:
        speech = self.synthesize(text, voice=voice, speed_factor=speed / BASE_WPM)
        native = native_wav_path(out_wav)
        native.parent.mkdir(parents=True, exist_ok=True)
        sf.write(native, speech.samples, speech.sample_rate, subtype="PCM_16")
        duration = write_wav_16k(speech.samples, speech.sample_rate, out_wav)
        samples16, _ = sf.read(out_wav, dtype="float32")
        opts = self._options()
        timed = align_output("Dia", text, samples16, alignment_voice(voice, opts.align_voice))
        seed = _voice_seed(opts.seed, voice)
        label = "dia:clone" if opts.reference_audio else f"dia:seed{seed}"
        return SpeechOutput(
            duration_s=duration, words=timed.words, phonemes=timed.phonemes, voice=label
        )
