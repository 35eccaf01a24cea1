"""Dia through the real transformers classes: a tiny random checkpoint built here, saved in the
published layout, loaded by ``tasks.speech.dia`` and generating a short clip on the CPU."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from novaavatar.errors import InputError, ProviderError
from novaavatar.providers import run_chain
from tasks.speech import EspeakProvider
from tasks.speech.audio import native_wav_path

TEXT = "Good evening. Here is the news."
TOKENS = 28  # decoder steps per chunk: 12 audio frames after the 16-step delay tail


def build_tiny_dia(root: Path, *, codec: str = "absolute") -> Path:
    """A random Dia (1-layer encoder and decoder, width 32) and DAC (9 codebooks of 1024, tiny
    convolutions) saved as ``save_pretrained`` writes the published checkpoint.

    ``codec``: ``absolute`` — processor_config names the DAC folder by absolute path;
    ``hub`` — it names ``descript/dac_44khz`` (as published) and the DAC sits in ``<root>/dac``.
    """
    import torch
    from transformers import (
        DacConfig,
        DacModel,
        DiaConfig,
        DiaFeatureExtractor,
        DiaForConditionalGeneration,
        DiaProcessor,
        DiaTokenizer,
    )
    from transformers.models.dia.configuration_dia import DiaDecoderConfig, DiaEncoderConfig

    torch.manual_seed(0)
    dac = DacModel(
        DacConfig(
            encoder_hidden_size=4,
            decoder_hidden_size=16,
            n_codebooks=9,
            codebook_size=1024,
            codebook_dim=4,
            sampling_rate=44100,
        )
    )
    enc = DiaEncoderConfig(
        num_hidden_layers=1,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    dec = DiaDecoderConfig(
        num_hidden_layers=1,
        hidden_size=32,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        intermediate_size=64,
        cross_num_attention_heads=2,
        cross_head_dim=16,
        cross_num_key_value_heads=2,
        cross_hidden_size=32,
        max_position_embeddings=1024,
    )
    DiaForConditionalGeneration(DiaConfig(encoder_config=enc, decoder_config=dec)).save_pretrained(
        root
    )
    dac.save_pretrained(root / "dac")
    processor = DiaProcessor(
        feature_extractor=DiaFeatureExtractor(sampling_rate=44100, hop_length=512),
        tokenizer=DiaTokenizer(),
        audio_tokenizer=DacModel.from_pretrained(root / "dac"),
    )
    processor.save_pretrained(root)
    if codec == "hub":
        cfg_path = root / "processor_config.json"
        cfg = json.loads(cfg_path.read_text())
        cfg["audio_tokenizer"]["audio_tokenizer_name_or_path"] = "descript/dac_44khz"
        cfg_path.write_text(json.dumps(cfg))
    return root


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """A tiny model's ops are too small to split: threads only contend (3-6x slower)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_dia(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dia(tmp_path_factory.mktemp("dia") / "Dia-tiny")


def _provider(path: Path, **kw: object):
    from tasks.speech.dia import DiaOptions, DiaProvider

    opts = dict(model_path=path, device="cpu", max_new_tokens=TOKENS, guidance_scale=3.0, seed=7)
    opts.update(kw)
    return DiaProvider(DiaOptions(**opts))  # type: ignore[arg-type]


def test_checkpoint_layout_is_the_published_one(tiny_dia: Path) -> None:
    names = {p.name for p in tiny_dia.iterdir()}
    assert {
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "processor_config.json",
        "tokenizer_config.json",
    } <= names
    assert json.loads((tiny_dia / "config.json").read_text())["architectures"] == [
        "DiaForConditionalGeneration"
    ]


def test_dia_speaks_16k_and_native_with_timings(tiny_dia: Path, tmp_path: Path) -> None:
    provider = _provider(tiny_dia)
    assert provider.available()
    out = provider.speak(TEXT, "en-us", 165, tmp_path / "speech.wav")
    info = sf.info(tmp_path / "speech.wav")
    assert (info.samplerate, info.channels) == (16000, 1)
    native = sf.info(native_wav_path(tmp_path / "speech.wav"))
    assert native.samplerate == 44100 and abs(native.duration - info.duration) < 0.01
    assert out.duration_s > 0.05 and out.voice == "dia:seed7"
    # timings come from the aligner: every word, monotonic, inside the audio
    assert [w.word for w in out.words] == TEXT.split()
    starts = [w.start for w in out.words]
    assert starts == sorted(starts) and out.words[-1].end <= out.duration_s + 1e-6
    assert len(out.phonemes) > len(out.words)
    loaded = provider.load()
    assert (loaded.device, loaded.dtype, loaded.sample_rate) == ("cpu", "float32", 44100)
    assert abs(loaded.frame_rate - 44100 / 512) < 1e-6


def test_seed_makes_it_repeatable_and_a_new_take_changes_the_voice(tiny_dia: Path) -> None:
    provider = _provider(tiny_dia)
    a = provider.synthesize(TEXT, voice="en-us")
    b = provider.synthesize(TEXT, voice="en-us")
    c = provider.synthesize(TEXT, voice="en-us+m3")
    assert np.array_equal(a.samples, b.samples)
    assert a.samples.shape != c.samples.shape or not np.array_equal(a.samples, c.samples)
    assert 0 < a.tokens <= TOKENS


def test_long_script_is_split_and_joined(tiny_dia: Path) -> None:
    text = " ".join(f"Sentence {i} tells one more part of the story." for i in range(3))
    speech = _provider(tiny_dia, max_chunk_chars=60).synthesize(text)
    assert speech.chunks == 3 and speech.samples.size > 0


def test_reference_clip_clones_a_voice(tiny_dia: Path, tmp_path: Path) -> None:
    from tasks.speech import espeak

    ref = espeak.synthesize("This is my voice, please copy it.")
    clip = tmp_path / "me.wav"
    sf.write(clip, ref.samples, ref.sample_rate)
    provider = _provider(
        tiny_dia, reference_audio=clip, reference_text="This is my voice, please copy it."
    )
    out = provider.speak(TEXT, "en-us", 165, tmp_path / "speech.wav")
    assert out.voice == "dia:clone" and out.duration_s > 0.05

    short = tmp_path / "short.wav"
    sf.write(short, ref.samples[: ref.sample_rate // 4], ref.sample_rate)
    with pytest.raises(InputError, match="5–15 s"):
        _provider(tiny_dia, reference_audio=short, reference_text="hi").synthesize(TEXT)


def test_codec_named_by_hub_id_loads_from_the_folder_beside_it(tmp_path: Path) -> None:
    root = build_tiny_dia(tmp_path / "Dia-hub", codec="hub")
    shutil.move(root / "dac", tmp_path / "dac-elsewhere")
    # no network, no cache: the Hub id alone cannot load, and the error says what to set
    with pytest.raises(ProviderError, match="DIA_CODEC_PATH"):
        _provider(root).synthesize(TEXT)
    speech = _provider(root, codec_path=tmp_path / "dac-elsewhere").synthesize(TEXT)
    assert speech.sample_rate == 44100 and speech.samples.size > 0


def test_options_are_validated() -> None:
    from tasks.speech.dia import DiaOptions

    with pytest.raises(ValueError, match="DIA_DEVICE='tpu'"):
        DiaOptions(model_path=Path("x"), device="tpu")
    with pytest.raises(ValueError, match="DIA_REFERENCE_AUDIO and DIA_REFERENCE_TEXT"):
        DiaOptions(model_path=Path("x"), reference_audio=Path("a.wav"))


def test_broken_checkpoint_falls_through_to_espeak(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    dia = _provider(broken)
    assert dia.available()
    out, used = run_chain(
        "speech", [dia, EspeakProvider()], lambda p: p.speak(TEXT, "en-us", 165, tmp_path / "s.wav")
    )
    assert used.name == "espeak-ng" and out.duration_s > 0.5
    missing = _provider(tmp_path / "nowhere")
    assert not missing.available()


def test_cli_speaks_with_dia_and_clones_a_voice(
    tiny_dia: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from novaavatar.cli import app
    from tasks.speech import espeak

    monkeypatch.setenv("DIA_MODEL_PATH", str(tiny_dia))
    monkeypatch.setenv("DIA_DEVICE", "cpu")
    monkeypatch.setenv("DIA_MAX_NEW_TOKENS", str(TOKENS))
    out = tmp_path / "x.wav"
    res = CliRunner().invoke(app, ["speak", "--text", TEXT, "--out", str(out), "--backend", "dia"])
    assert res.exit_code == 0, res.output
    assert json.loads(out.with_suffix(".json").read_text())["provider"] == "dia"
    assert sf.info(out).samplerate == 16000

    said = "This is my voice, please copy it."
    ref = espeak.synthesize(said)
    clip = tmp_path / "me.wav"
    sf.write(clip, ref.samples, ref.sample_rate)
    res = CliRunner().invoke(
        app,
        [
            "speak",
            "--text",
            TEXT,
            "--out",
            str(out),
            "--reference-audio",
            str(clip),
            "--reference-text",
            said,
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(out.with_suffix(".json").read_text())["voice"] == "dia:clone"


def test_a_presenters_clip_reaches_dias_audio_prompt_in_the_speech_stage(
    tiny_dia: Path, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A presenter's Dia voice (ProduceOptions.voice_clip_key/text) is Dia's audio prompt."""
    import io

    from novaavatar.domain import ProduceOptions, RenderConfig, VideoScript
    from novaavatar.settings import get_settings
    from novaavatar.uploads import store_audio
    from tasks.speech import espeak
    from tasks.stages import synthesize_speech

    for name, value in dict(
        DIA_MODEL_PATH=str(tiny_dia), DIA_DEVICE="cpu", DIA_MAX_NEW_TOKENS=str(TOKENS), DIA_SEED="7"
    ).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    said = "This is my voice, please copy it."
    ref = espeak.synthesize(said)
    buf = io.BytesIO()
    sf.write(buf, ref.samples, ref.sample_rate, format="WAV")
    clip = store_audio(store, buf.getvalue(), "anna.wav")
    script = VideoScript(text=TEXT, style="news_anchor", target_duration_s=15)
    cfg = RenderConfig(store_uri=store.uri)
    cloned = synthesize_speech.fn(
        script, ProduceOptions(voice_clip_key=clip, voice_clip_text=said), "vid-clone01", cfg
    )
    plain = synthesize_speech.fn(script, ProduceOptions(), "vid-plain01", cfg)
    assert (cloned.provider, cloned.voice) == ("dia", "dia:clone")
    assert (plain.provider, plain.voice) == ("dia", "dia:seed7")
    get_settings.cache_clear()
