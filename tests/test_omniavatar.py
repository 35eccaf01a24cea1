"""OmniAvatar on CPU: tiny random weights written in the published layout, loaded by the
real loader.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from OmniAvatar import loading
from OmniAvatar.calibration import fit_rescale
from OmniAvatar.config import OmniAvatarConfig
from OmniAvatar.model import OmniAvatarDiT, TeaCache, trusted_change
from OmniAvatar.offload import plan_resident_blocks
from OmniAvatar.pipeline import (
    FlowMatchScheduler,
    OmniAvatarPipeline,
    check_fits,
    chunk_plan,
    resolve_dtype,
)

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

CFG = OmniAvatarConfig.tiny()
SIZE = (32, 32)
CHUNK, OVERLAP = 9, 5  # 1 + 4n frames; a 0.44 s audio (11 frames) needs two chunks


# --- the published layout, written with the published names (independent of loading.py) -----


def _dit_base_weights(cfg: OmniAvatarConfig, g: torch.Generator) -> dict[str, torch.Tensor]:
    """Wan2.1-T2V keys and shapes: a 16-channel patch embedding (text-to-video base)."""
    d, f = cfg.dim, cfg.ffn_dim

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.1

    w = {
        "patch_embedding.weight": r(d, 16, *cfg.patch_size),
        "patch_embedding.bias": r(d),
        "text_embedding.0.weight": r(d, cfg.text_dim),
        "text_embedding.0.bias": r(d),
        "text_embedding.2.weight": r(d, d),
        "text_embedding.2.bias": r(d),
        "time_embedding.0.weight": r(d, cfg.freq_dim),
        "time_embedding.0.bias": r(d),
        "time_embedding.2.weight": r(d, d),
        "time_embedding.2.bias": r(d),
        "time_projection.1.weight": r(6 * d, d),
        "time_projection.1.bias": r(6 * d),
        "head.head.weight": r(cfg.out_dim * 4, d),
        "head.head.bias": r(cfg.out_dim * 4),
        "head.modulation": r(1, 2, d),
    }
    for i in range(cfg.num_layers):
        p = f"blocks.{i}."
        w[p + "modulation"] = r(1, 6, d)
        for attn in ("self_attn", "cross_attn"):
            for n in "qkvo":
                w[f"{p}{attn}.{n}.weight"], w[f"{p}{attn}.{n}.bias"] = r(d, d), r(d)
            w[f"{p}{attn}.norm_q.weight"] = 1 + r(d)
            w[f"{p}{attn}.norm_k.weight"] = 1 + r(d)
        w[p + "norm3.weight"], w[p + "norm3.bias"] = 1 + r(d), r(d)
        w[p + "ffn.0.weight"], w[p + "ffn.0.bias"] = r(f, d), r(f)
        w[p + "ffn.2.weight"], w[p + "ffn.2.bias"] = r(d, f), r(d)
    return w


def _omni_weights(cfg: OmniAvatarConfig, g: torch.Generator) -> dict[str, torch.Tensor]:
    """OmniAvatar's pytorch_model.pt: LoRA A/B (peft names), 33-channel patch embedding, audio."""
    d, f, rank = cfg.dim, cfg.ffn_dim, cfg.lora_rank

    def r(*shape: int, s: float = 0.1) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * s

    w = {
        "patch_embedding.weight": r(d, cfg.in_dim, *cfg.patch_size),
        "patch_embedding.bias": r(d),
        "audio_proj.proj.weight": r(cfg.audio_hidden_size, cfg.audio_in_dim * 4),
        "audio_proj.proj.bias": r(cfg.audio_hidden_size),
        "audio_proj.norm_out.weight": 1 + r(cfg.audio_hidden_size),
        "audio_proj.norm_out.bias": r(cfg.audio_hidden_size),
    }
    for j in range(len(cfg.audio_blocks)):
        w[f"audio_cond_projs.{j}.weight"] = r(d, cfg.audio_hidden_size, s=0.5)
        w[f"audio_cond_projs.{j}.bias"] = r(d)
    for i in range(cfg.num_layers):
        targets = [
            (f"blocks.{i}.{a}.{n}", d, d) for a in ("self_attn", "cross_attn") for n in "qkvo"
        ]
        targets += [(f"blocks.{i}.ffn.0", f, d), (f"blocks.{i}.ffn.2", d, f)]
        for name, out_f, in_f in targets:
            w[f"{name}.lora_A.default.weight"] = r(rank, in_f)
            w[f"{name}.lora_B.default.weight"] = r(out_f, rank)
    return w


def _t5_weights(g: torch.Generator) -> dict[str, torch.Tensor]:
    """Wan's T5 encoder names, from a random transformers UMT5 encoder."""
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
    hf = UMT5EncoderModel(
        UMT5Config(
            vocab_size=32,
            d_model=CFG.text_dim,
            d_kv=8,
            d_ff=32,
            num_layers=2,
            num_heads=2,
            feed_forward_proj="gated-gelu",
        )
    ).state_dict()
    w = {
        "token_embedding.weight": hf["shared.weight"],
        "norm.weight": hf["encoder.final_layer_norm.weight"],
    }
    for i in range(2):
        p, q = f"blocks.{i}.", f"encoder.block.{i}.layer."
        w[p + "norm1.weight"] = hf[q + "0.layer_norm.weight"]
        for n in "qkvo":
            w[f"{p}attn.{n}.weight"] = hf[f"{q}0.SelfAttention.{n}.weight"]
        w[p + "pos_embedding.embedding.weight"] = hf[
            q + "0.SelfAttention.relative_attention_bias.weight"
        ]
        w[p + "norm2.weight"] = hf[q + "1.layer_norm.weight"]
        w[p + "ffn.gate.0.weight"] = hf[q + "1.DenseReluDense.wi_0.weight"]
        w[p + "ffn.fc1.weight"] = hf[q + "1.DenseReluDense.wi_1.weight"]
        w[p + "ffn.fc2.weight"] = hf[q + "1.DenseReluDense.wo.weight"]
    return w


def _vae_weights() -> dict[str, torch.Tensor]:
    """Wan VAE names (flat down/up sample lists, Sequential residual blocks) from diffusers'."""
    from diffusers import AutoencoderKLWan

    torch.manual_seed(3)
    hf = AutoencoderKLWan(base_dim=8, num_res_blocks=1).state_dict()
    res = {
        "norm1": "residual.0",
        "conv1": "residual.2",
        "norm2": "residual.3",
        "conv2": "residual.6",
        "conv_shortcut": "shortcut",
    }
    out = {}
    for key, t in hf.items():
        k = key
        for new, old in res.items():  # residual blocks first: top-level convs get these names too
            k = re.sub(rf"\.{new}\.(weight|bias|gamma)$", rf".{old}.\1", k)
        k = re.sub(r"^quant_conv", "conv1", k)
        k = re.sub(r"^post_quant_conv", "conv2", k)
        k = re.sub(r"^(encoder|decoder)\.conv_in", r"\1.conv1", k)
        k = re.sub(r"^(encoder|decoder)\.norm_out", r"\1.head.0", k)
        k = re.sub(r"^(encoder|decoder)\.conv_out", r"\1.head.2", k)
        k = re.sub(r"mid_block\.attentions\.0", "middle.1", k)
        k = re.sub(r"mid_block\.resnets\.(\d)", lambda m: f"middle.{2 * int(m[1])}", k)
        k = re.sub(r"^encoder\.down_blocks", "encoder.downsamples", k)
        # one residual block per stage + 1 -> 2 resnets and an upsampler per decoder stage
        k = re.sub(
            r"^decoder\.up_blocks\.(\d)\.resnets\.(\d)",
            lambda m: f"decoder.upsamples.{3 * int(m[1]) + int(m[2])}",
            k,
        )
        k = re.sub(
            r"^decoder\.up_blocks\.(\d)\.upsamplers\.0",
            lambda m: f"decoder.upsamples.{3 * int(m[1]) + 2}",
            k,
        )
        out[k] = t
    return out


def _write_tokenizer(folder: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = [
        "a",
        "the",
        "news",
        "presenter",
        "talks",
        "calmly",
        "smiling",
        "person",
        "speaking",
        "blurry",
        "low",
        "quality",
    ]
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2} | {w: i + 3 for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>", eos_token="</s>"
    ).save_pretrained(folder)


def write_published_layout(
    root: Path, cfg: OmniAvatarConfig = CFG, dtype: torch.dtype = torch.float32
) -> Path:
    """The published folders under ``root``; DiT and OmniAvatar tensors stored in ``dtype``
    (the release stores them in bf16)."""
    from safetensors.torch import save_file
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    g = torch.Generator().manual_seed(0)
    base = root / "Wan2.1-T2V-1.3B"
    base.mkdir(parents=True)
    (base / "config.json").write_text(
        json.dumps(
            {
                "_class_name": "WanModel",
                "model_type": "t2v",
                "dim": cfg.dim,
                "ffn_dim": cfg.ffn_dim,
                "freq_dim": cfg.freq_dim,
                "in_dim": 16,
                "num_heads": cfg.num_heads,
                "num_layers": cfg.num_layers,
                "out_dim": 16,
                "text_len": cfg.text_len,
                "eps": 1e-6,
                "text_dim": cfg.text_dim,
            }
        )
    )
    dit = {k: v.to(dtype) for k, v in _dit_base_weights(cfg, g).items()}
    keys = sorted(dit)
    shards = {
        "diffusion_pytorch_model-00001-of-00002.safetensors": keys[: len(keys) // 2],
        "diffusion_pytorch_model-00002-of-00002.safetensors": keys[len(keys) // 2 :],
    }
    for name, ks in shards.items():
        save_file({k: dit[k].contiguous() for k in ks}, str(base / name))
    (base / "diffusion_pytorch_model.safetensors.index.json").write_text(
        json.dumps({"metadata": {}, "weight_map": {k: n for n, ks in shards.items() for k in ks}})
    )
    torch.save(_t5_weights(g), base / "models_t5_umt5-xxl-enc-bf16.pth")
    torch.save(_vae_weights(), base / "Wan2.1_VAE.pth")
    _write_tokenizer(base / "google" / "umt5-xxl")

    torch.manual_seed(1)
    Wav2Vec2Model(
        Wav2Vec2Config(
            hidden_size=8,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=16,
            conv_dim=(8,) * 7,
            num_conv_pos_embeddings=8,
            num_conv_pos_embedding_groups=2,
        )
    ).save_pretrained(root / "wav2vec2-base-960h")

    omni = root / "OmniAvatar-1.3B"
    omni.mkdir()
    (omni / "config.json").write_text(
        json.dumps(
            {
                "lora_rank": cfg.lora_rank,
                "lora_alpha": cfg.lora_alpha,
                "lora_target_modules": "q,k,v,o,ffn.0,ffn.2",
                "audio_hidden_size": cfg.audio_hidden_size,
                "in_dim": cfg.in_dim,
                "use_audio": True,
                "i2v": True,
            }
        )
    )
    torch.save(
        {k: v.to(dtype) for k, v in _omni_weights(cfg, g).items()}, omni / "pytorch_model.pt"
    )
    return root


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_published_layout(tmp_path_factory.mktemp("pretrained_models"))


@pytest.fixture(scope="module")
def pipe(layout: Path) -> OmniAvatarPipeline:
    return OmniAvatarPipeline.from_pretrained(layout, device="cpu", dtype=torch.float32)


def _portrait() -> np.ndarray:
    y, x = np.mgrid[0:48, 0:40]
    return np.stack([x * 6, y * 5, (x + y) * 3], axis=-1).astype(np.uint8)


def _speech(seconds: float = 0.44, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(16_000 * seconds)) / 16_000
    return (0.3 * np.sin(2 * np.pi * freq * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def _run(pipe: OmniAvatarPipeline, **kw):  # type: ignore[no-untyped-def]
    args = dict(
        image=_portrait(),
        audio=_speech(),
        prompt="a news presenter talks",
        num_steps=2,
        size=SIZE,
        chunk_frames=CHUNK,
        overlap_frames=OVERLAP,
        guidance_scale=1.0,
    )
    args.update(kw)
    return pipe(**args)


# --- config ----------------------------------------------------------------------------------


def test_presets_match_published_shapes() -> None:
    small, big = OmniAvatarConfig.wan_1_3b(), OmniAvatarConfig.wan_14b()
    assert (small.dim, small.num_layers, small.num_heads, small.ffn_dim) == (1536, 30, 12, 8960)
    assert (big.dim, big.num_layers, big.num_heads, big.ffn_dim) == (5120, 40, 40, 13824)
    assert small.audio_in_dim == 10752 and small.in_dim == 33 and small.patch_size == (1, 2, 2)
    assert list(small.audio_blocks) == list(range(2, 16))
    assert 1.3e9 < small.num_parameters() < 1.5e9 and 1.3e10 < big.num_parameters() < 1.5e10
    with torch.device("meta"):
        tiny = OmniAvatarDiT(CFG)
    assert sum(p.numel() for p in tiny.parameters()) == CFG.num_parameters()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_heads": 5}, "divisible by num_heads"),
        ({"in_dim": 32}, "2 \\* latent_dim \\+ 1"),
        ({"num_layers": 2}, "num_layers must be >= 4"),
        ({"dim": 0}, "dim must be a positive int"),
        ({"out_dim": 8}, "out_dim must equal latent_dim"),
        ({"lora_alpha": 0.0}, "lora_alpha"),
    ],
)
def test_config_rejects_inconsistent_shapes(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CFG.replace(**changes)


def test_memory_check_fails_before_loading() -> None:
    with pytest.raises(MemoryError, match="14B needs about"):
        check_fits(OmniAvatarConfig.wan_14b(), torch.bfloat16, free_bytes=24 << 30)
    big = OmniAvatarConfig.wan_14b()
    plan = check_fits(big, torch.bfloat16, 24 << 30, resident_params=7_000_000_000)
    block = big.block_parameters()
    stem = big.num_parameters() - big.num_layers * block
    # whole blocks fit the budget after the stem; two streamed blocks are in flight at once
    assert plan.resident_blocks == (7_000_000_000 - stem) // block == 19
    assert plan.device_bytes == 2 * (stem + (19 + 2) * block)
    # the budget is what decides: none resident fits where all resident does not
    none = check_fits(big, torch.bfloat16, 10 << 30, resident_params=0)
    assert none.resident_blocks == 0 and none.device_bytes == 2 * (stem + 2 * block)
    with pytest.raises(MemoryError, match="19 of 40 blocks resident"):
        check_fits(big, torch.bfloat16, 12 << 30, resident_params=7_000_000_000)
    with pytest.raises(MemoryError, match="text/audio encoders"):
        check_fits(big, torch.bfloat16, 10 << 30, resident_params=0, other_bytes=11 << 30)


# --- loading ---------------------------------------------------------------------------------


def test_loader_merges_lora_and_uses_omniavatar_modules(layout: Path) -> None:
    paths = loading.CheckpointPaths.locate(layout)
    cfg = loading.read_dit_config(paths, use_14b=False)
    assert cfg == CFG
    dit = loading.load_dit(paths, cfg, torch.float32)
    base = loading.read_safetensors_dir(paths.base)
    omni = loading.read_torch_file(paths.omni / "pytorch_model.pt")
    a, b = (
        omni["blocks.1.ffn.2.lora_A.default.weight"],
        omni["blocks.1.ffn.2.lora_B.default.weight"],
    )
    expected = base["blocks.1.ffn.2.weight"] + cfg.lora_alpha / cfg.lora_rank * b @ a
    torch.testing.assert_close(dit.blocks[1].ffn.fc2.weight, expected)
    torch.testing.assert_close(dit.blocks[0].cross_attn_norm.bias, base["blocks.0.norm3.bias"])
    assert dit.patch_embed.weight.shape[1] == 33
    torch.testing.assert_close(dit.audio_injections[1].weight, omni["audio_cond_projs.1.weight"])


def _with_lora_beside(dit: OmniAvatarDiT, lora: dict[str, torch.Tensor], scale: float) -> None:
    """Keep each LoRA pair next to its linear, y = W·x + b + scale·B·(A·x), as the published
    inference runs it (peft adapters, not merged)."""
    names = {
        "self_attn": "self_attn",
        "cross_attn": "cross_attn",
        "ffn.0": "ffn.fc1",
        "ffn.2": "ffn.fc2",
    }
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, t in lora.items():
        m = re.fullmatch(
            r"blocks\.(\d+)\.(self_attn\.[qkvo]|cross_attn\.[qkvo]|ffn\.[02])\.lora_([AB])\.default\.weight",
            key,
        )
        assert m is not None, key
        part = m[2] if m[2].startswith(("self", "cross")) else names[m[2]]
        pairs.setdefault(f"blocks.{m[1]}.{part}", {})[m[3]] = t.float()
    for target, ab in pairs.items():
        module = dit.get_submodule(target)

        def add_lora(
            mod: torch.nn.Module, args: tuple, out: torch.Tensor, a=ab["A"], b=ab["B"]
        ) -> torch.Tensor:  # type: ignore[no-untyped-def]
            return out + scale * (args[0] @ a.T) @ b.T

        module.register_forward_hook(add_lora)
    assert len(pairs) == 10 * CFG.num_layers


def test_merged_lora_equals_lora_beside_bf16_weights_in_float32(tmp_path: Path) -> None:
    """bf16 files (as released), run in float32: merging must not round the merged weights
    back to bf16, or the output moves ~1e-3 away from the unmerged model."""
    root = write_published_layout(tmp_path / "pretrained_models", dtype=torch.bfloat16)
    paths = loading.CheckpointPaths.locate(root)
    merged = loading.load_dit(paths, CFG, torch.float32)
    assert merged.blocks[0].ffn.fc1.weight.dtype == torch.float32

    weights = loading.read_safetensors_dir(paths.base)
    omni = loading.read_torch_file(paths.omni / "pytorch_model.pt")
    assert {t.dtype for t in [*weights.values(), *omni.values()]} == {torch.bfloat16}
    lora = {k: v for k, v in omni.items() if "lora_" in k}
    weights.update({k: v for k, v in omni.items() if k not in lora})
    with torch.device("meta"):
        unmerged = OmniAvatarDiT(CFG)
    state = loading.map_state_dict(weights, loading.KEY_TABLES["dit"](), unmerged, "DiT")
    unmerged.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    unmerged.eval().requires_grad_(False)
    _with_lora_beside(unmerged, lora, CFG.lora_scale)

    g = torch.Generator().manual_seed(5)
    frames, h, w = 3, 8, 8
    inputs = (
        torch.randn(1, CFG.latent_dim, frames, h, w, generator=g),
        torch.randn(1, CFG.in_dim - CFG.latent_dim, frames, h, w, generator=g),
        torch.tensor([700.0]),
        torch.randn(1, CFG.text_len, CFG.text_dim, generator=g),
        torch.randn(1, 4 * (frames - 1) + 1, CFG.audio_in_dim, generator=g),
    )
    with torch.no_grad():
        want, got = unmerged(*inputs), merged(*inputs)
    scale = want.abs().max()
    assert scale > 0.1
    assert (got - want).abs().max() / scale < 1e-5


def test_key_table_fails_on_renamed_or_missing_keys(layout: Path) -> None:
    paths = loading.CheckpointPaths.locate(layout)
    weights = loading.read_safetensors_dir(paths.base)
    weights.update(
        {
            k: v
            for k, v in loading.read_torch_file(paths.omni / "pytorch_model.pt").items()
            if "lora" not in k
        }
    )
    with torch.device("meta"):
        model = OmniAvatarDiT(CFG)
    rules = loading.KEY_TABLES["dit"]()
    assert len(loading.map_state_dict(weights, rules, model, "DiT")) == len(model.state_dict())

    renamed = dict(weights)
    renamed["blocks.0.norm_3.weight"] = renamed.pop("blocks.0.norm3.weight")
    with pytest.raises(loading.KeyMappingError, match=r"no rule maps: blocks\.0\.norm_3\.weight"):
        loading.map_state_dict(renamed, rules, model, "DiT")
    removed = dict(weights)
    del removed["audio_cond_projs.0.bias"]
    with pytest.raises(
        loading.KeyMappingError, match=r"1 parameter\(s\) missing \(audio_injections\.0\.bias\)"
    ):
        loading.map_state_dict(removed, rules, model, "DiT")
    wrong = dict(weights)
    wrong["patch_embedding.weight"] = weights["patch_embedding.weight"][:, :16]  # the T2V base only
    with pytest.raises(loading.KeyMappingError, match="shape mismatch"):
        loading.map_state_dict(wrong, rules, model, "DiT")


def test_loader_rejects_lora_on_an_unknown_layer(layout: Path, tmp_path: Path) -> None:
    paths = loading.CheckpointPaths.locate(layout)
    omni = dict(loading.read_torch_file(paths.omni / "pytorch_model.pt"))
    omni["blocks.0.norm3.lora_A.default.weight"] = torch.zeros(CFG.lora_rank, CFG.dim)
    omni["blocks.0.norm3.lora_B.default.weight"] = torch.zeros(CFG.dim, CFG.lora_rank)
    bad = loading.CheckpointPaths(paths.base, paths.wav2vec, tmp_path)
    torch.save(omni, tmp_path / "pytorch_model.pt")
    with pytest.raises(loading.KeyMappingError, match="not an attention q/k/v/o or FFN"):
        loading.load_dit(bad, CFG, torch.float32)


def test_vae_and_text_encoder_load_from_wan_files(layout: Path) -> None:
    base = layout / "Wan2.1-T2V-1.3B"
    vae = loading.load_vae(base / "Wan2.1_VAE.pth")
    assert (vae.config.base_dim, vae.config.num_res_blocks, list(vae.config.dim_mult)) == (
        8,
        1,
        [1, 2, 4, 4],
    )
    wan_vae = torch.load(base / "Wan2.1_VAE.pth", weights_only=True)
    torch.testing.assert_close(
        vae.decoder.up_blocks[1].upsamplers[0].time_conv.weight,
        wan_vae["decoder.upsamples.5.time_conv.weight"],
    )
    t5, tok = loading.load_text_encoder(base, torch.float32)
    wan_t5 = torch.load(base / "models_t5_umt5-xxl-enc-bf16.pth", weights_only=True)
    torch.testing.assert_close(
        t5.encoder.block[1].layer[1].DenseReluDense.wi_0.weight,
        wan_t5["blocks.1.ffn.gate.0.weight"],
    )
    assert t5.encoder.embed_tokens.weight is t5.shared.weight
    assert tok("a news presenter").input_ids[:3] == [3, 5, 6]


def test_missing_weights_are_named(tmp_path: Path) -> None:
    (tmp_path / "Wan2.1-T2V-14B").mkdir()
    with pytest.raises(
        FileNotFoundError, match=r"14B weights incomplete.*Wan2.1_VAE.pth.*pytorch_model.pt"
    ):
        loading.CheckpointPaths.locate(tmp_path, use_14b=True)


# --- model -----------------------------------------------------------------------------------


def test_dit_batch_of_identical_samples_equals_one_alone() -> None:
    torch.manual_seed(0)
    dit = OmniAvatarDiT(CFG).eval()
    for p in dit.audio_injections.parameters():
        torch.nn.init.normal_(p)
    lat, cond = torch.randn(1, 16, 3, 4, 4), torch.randn(1, 17, 3, 4, 4)
    t, ctx, audio = (
        torch.tensor([700.0]),
        torch.randn(1, 8, CFG.text_dim),
        torch.randn(1, 9, CFG.audio_in_dim),
    )
    other_audio = torch.randn(1, 9, CFG.audio_in_dim)
    with torch.no_grad():
        alone = dit(lat, cond, t, ctx, audio)
        pair = dit(
            lat.repeat(2, 1, 1, 1, 1),
            cond.repeat(2, 1, 1, 1, 1),
            t.repeat(2),
            ctx.repeat(2, 1, 1),
            torch.cat([audio, other_audio]),
        )
    torch.testing.assert_close(pair[:1], alone, atol=1e-5, rtol=1e-5)
    # the second sample got its own audio, not the first one's
    assert (pair[1:] - alone).abs().max() > 1e-2


def test_tea_cache_skips_only_above_zero_threshold() -> None:
    mods = [torch.full((1, 6, 4), 1.0 + 0.02 * i) for i in range(6)]  # ~2% per step
    for thresh, skips in ((0.0, 0), (0.05, 3)):
        cache = TeaCache(thresh)
        for i, m in enumerate(mods):
            if cache.should_compute(m, force=i in (0, 5)):
                cache.residual = torch.zeros(1)
        assert cache.skipped == skips


def test_scheduler_goes_from_noise_to_data() -> None:
    s = FlowMatchScheduler(4, shift=5.0)
    assert s.sigmas[0] == 1 and s.sigmas[-1] == 0 and len(s.timesteps) == 4
    x0, noise = torch.zeros(3), torch.ones(3)
    x = noise.clone()
    for i in range(4):
        x = s.step(x, noise - x0, i)
    torch.testing.assert_close(x, x0)
    assert (
        chunk_plan(11, 9, 5) == [0, 4]
        and chunk_plan(9, 9, 5) == [0]
        and chunk_plan(14, 9, 5) == [0, 4, 8]
    )


# --- pipeline --------------------------------------------------------------------------------


def test_two_chunk_generation_has_audio_length_and_size(pipe: OmniAvatarPipeline) -> None:
    seen: list[tuple[int, int]] = []
    out = _run(pipe, callback=lambda done, total: seen.append((done, total)))
    assert out.chunks == 2 and out.fps == 25
    assert out.frames.shape == (11, 32, 32, 3) and out.frames.dtype == np.uint8  # ceil(0.44 · 25)
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert out.dit_calls == 4  # no guidance: one pass per step per chunk


def test_different_audio_gives_different_frames(pipe: OmniAvatarPipeline) -> None:
    a = _run(pipe, audio=_speech(freq=220.0)).frames
    b = _run(pipe, audio=_speech(freq=640.0) * 3).frames
    again = _run(pipe, audio=_speech(freq=220.0)).frames
    np.testing.assert_array_equal(a, again)  # seeded
    assert np.abs(a[1:].astype(int) - b[1:].astype(int)).max() > 0


@pytest.mark.parametrize(
    ("guidance", "audio_scale", "per_step"),
    [(4.5, None, 2), (4.5, 4.5, 2), (4.5, 3.0, 3), (1.0, 1.0, 1)],
)
def test_cfg_dit_passes_per_step(
    pipe: OmniAvatarPipeline, guidance: float, audio_scale: float | None, per_step: int
) -> None:
    out = _run(pipe, audio=_speech(0.3), guidance_scale=guidance, audio_scale=audio_scale)
    assert out.chunks == 1 and out.dit_calls == 2 * per_step


def test_tea_cache_skips_steps_when_allowed(pipe: OmniAvatarPipeline) -> None:
    plain = _run(pipe, audio=_speech(0.3), num_steps=8, tea_cache_thresh=0.0)
    # random tiny weights move the modulation far more per step than the trained model does,
    # so the threshold is above the 0.05–0.15 a real run uses
    cached = _run(pipe, audio=_speech(0.3), num_steps=8, tea_cache_thresh=1.0)
    assert plain.tea_cache_skips == 0
    assert 0 < cached.tea_cache_skips < 8 - 2
    assert cached.frames.shape == plain.frames.shape


def test_batch_of_two_identical_samples_equals_one_alone(pipe: OmniAvatarPipeline) -> None:
    alone = _run(pipe, guidance_scale=4.5, audio_scale=3.0).frames
    pair = _run(
        pipe,
        image=[_portrait()] * 2,
        audio=[_speech()] * 2,
        prompt=["a news presenter talks"] * 2,
        seed=[0, 0],
        guidance_scale=4.5,
        audio_scale=3.0,
    ).videos
    for video in pair:
        assert video.shape == alone.shape
        assert np.abs(video.astype(int) - alone.astype(int)).max() <= 1


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"audio": np.zeros(0, np.float32)}, "mono waveform of 0.05"),
        ({"audio": np.zeros((2, 16000), np.float32)}, "mono waveform"),
        ({"image": np.zeros((4, 4), np.uint8)}, "RGB uint8"),
        ({"size": (40, 40)}, "multiples of 16"),
        ({"overlap_frames": 4}, "1 \\+ 4n"),
        ({"sample_rate": 44_100}, "16000 Hz"),
    ],
)
def test_bad_inputs_are_named(pipe: OmniAvatarPipeline, kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _run(pipe, **kw)


# --- resident-parameter budget, offload, freeing ----------------------------------------------


def test_resident_planner_keeps_whole_blocks_within_the_budget() -> None:
    blocks, stem = [10, 10, 10, 10], 5
    assert plan_resident_blocks(blocks, stem, None).resident_blocks == (0, 1, 2, 3)
    none = plan_resident_blocks(blocks, stem, 0)
    assert none.resident_blocks == () and none.streamed_blocks == (0, 1, 2, 3)
    assert none.resident_params == stem and none.peak_device_params() == stem + 20
    partial = plan_resident_blocks(blocks, stem, 29)  # 5 + 10 + 10 fits, one more does not
    assert partial.resident_blocks == (0, 1) and partial.streamed_blocks == (2, 3)
    assert partial.resident_params == 25 and partial.streamed_params == 20
    assert plan_resident_blocks(blocks, stem, 45).streamed_blocks == ()
    with pytest.raises(ValueError, match="budget must be >= 0"):
        plan_resident_blocks(blocks, stem, -1)
    with torch.device("meta"):
        dit = OmniAvatarDiT(CFG)
    total, block = CFG.num_parameters(), CFG.block_parameters()
    assert dit.resident_plan(total).streamed_blocks == ()
    assert dit.resident_plan(total - 1).resident_blocks == tuple(range(CFG.num_layers - 1))
    assert dit.resident_plan(total - 2 * block).resident_blocks == tuple(range(CFG.num_layers - 2))


def test_streamed_blocks_give_identical_frames(pipe: OmniAvatarPipeline) -> None:
    dit = pipe.dit
    total, block = CFG.num_parameters(), CFG.block_parameters()
    reference = _run(pipe, guidance_scale=4.5, audio_scale=3.0)
    try:
        for budget, streamed in ((0, 6), (total - 2 * block, 2), (total, 0)):
            plan = dit.stream_blocks(budget, pipe.device)
            dit.place(pipe.device)
            assert len(plan.streamed_blocks) == streamed
            seen: list[bool] = []
            if streamed:
                first = plan.streamed_blocks[0]
                masters = [m for _, m in dit.streamer.masters[first]]  # type: ignore[union-attr]
                # while the block runs its weights are a fresh copy, not the host master
                hook = dit.blocks[first].register_forward_pre_hook(
                    lambda mod, _a, seen=seen, masters=masters: seen.append(
                        all(
                            p.data_ptr() != m.data_ptr()
                            for p, m in zip(mod.parameters(), masters, strict=True)
                        )
                    )
                )
            in_flight: list[int] = []
            streamer = dit.streamer
            watches = [
                b.register_forward_pre_hook(
                    lambda *_, f=in_flight, st=streamer: f.append(st.device_tensors())
                )
                for b in dit.blocks
                if streamer is not None
            ]
            out = _run(pipe, guidance_scale=4.5, audio_scale=3.0)
            for w in watches:
                w.remove()
            if streamed:
                hook.remove()
                assert seen and all(seen)
                # the running block and the prefetched next one, never more
                per_block = len(list(dit.blocks[0].parameters()))
                assert max(in_flight) == 2 * per_block
                assert dit.streamer.loads == streamed * out.dit_calls  # type: ignore[union-attr]
                assert dit.streamer.device_tensors() == 0  # nothing left after the job
            else:
                assert dit.streamer is None
            np.testing.assert_array_equal(out.frames, reference.frames)
    finally:
        dit.stream_blocks(None, pipe.device)
        dit.place(pipe.device)


def test_offload_budget_and_bf16_from_the_published_layout(layout: Path) -> None:
    lean = OmniAvatarPipeline.from_pretrained(
        layout, device="cpu", dtype="bf16", offload=True, resident_params=0
    )
    assert lean.dit.patch_embed.weight.dtype == torch.bfloat16
    assert lean.vae.dtype == torch.float32  # the VAE and wav2vec2 stay fp32
    assert lean.resident_plan.resident_blocks == () and lean.dit.streamer is not None
    during: list[dict[str, str]] = []
    out = _run(lean, num_steps=2, callback=lambda *_: during.append(dict(lean.residency)))
    assert out.frames.shape == (11, 32, 32, 3)
    # only the DiT is on the device while it denoises; everything is back in host memory after
    assert all(
        r == {"dit": "device", "vae": "host", "text_encoder": "host", "audio_encoder": "host"}
        for r in during
    )
    assert set(lean.residency.values()) == {"host"}

    # a failing job frees too: no streamed copy held, components home, the audio hook removed
    def broken(*_a: object) -> None:
        raise RuntimeError("block failed")

    hook = lean.dit.blocks[3].register_forward_pre_hook(broken)
    with pytest.raises(RuntimeError, match="block failed"):
        _run(lean)
    hook.remove()
    assert lean.dit.streamer is not None and lean.dit.streamer.device_tensors() == 0
    assert set(lean.residency.values()) == {"host"}
    assert not lean.audio_encoder.feature_extractor._forward_hooks


def test_release_puts_everything_in_host_memory(layout: Path) -> None:
    resident = OmniAvatarPipeline.from_pretrained(layout, device="cpu", compile=True)
    assert resident.dit.compiled  # wired: blocks compile at their first pass
    assert all(b._compiled_call_impl is not None for b in resident.dit.blocks)
    resident.dit.uncompile_blocks()  # (a real inductor compile takes too long for a unit test)
    assert set(resident.residency.values()) == {"device"}  # no offload: all stay loaded
    resident.release()
    assert set(resident.residency.values()) == {"host"} and resident.offload
    assert _run(resident).frames.shape == (11, 32, 32, 3)  # still usable, offloading


# --- TeaCache calibration --------------------------------------------------------------------


def _skips(thresh: float, changes: list[float], coefficients: tuple[float, ...] = (1.0, 0.0)):  # type: ignore[no-untyped-def]
    """Feed modulations whose relative L1 change per step is exactly ``changes``."""
    cache = TeaCache(thresh, coefficients)
    value, pattern = 1.0, []
    for i in range(len(changes) + 1):
        if i:
            value *= 1 + changes[i - 1]
        computed = cache.should_compute(
            torch.full((1, 6, 4), value, dtype=torch.float64), i == len(changes)
        )
        if computed:
            cache.residual = torch.zeros(1)
        pattern.append(computed)
    return cache, pattern


def test_tea_cache_skips_more_with_larger_thresholds() -> None:
    changes = [0.03, 0.01, 0.02, 0.05, 0.01, 0.01, 0.04, 0.02, 0.03, 0.01]
    skips = [_skips(t, changes)[0].skipped for t in (0.0, 0.02, 0.05, 0.1, 0.3)]
    assert skips[0] == 0
    assert skips == sorted(skips) and skips[-1] > skips[1]


def test_tea_cache_accumulates_the_rescaled_change() -> None:
    # identity: 0.02, 0.04 stay under 0.05, 0.06 computes and restarts the sum
    _, raw = _skips(0.05, [0.02] * 6)
    assert raw == [True, False, False, True, False, False, True]
    # P(x) = 2x doubles each step's estimate: 0.04 skips, 0.08 computes
    cache, doubled = _skips(0.05, [0.02] * 6, (2.0, 0.0))
    assert doubled == [True, False, True, False, True, False, True]
    assert cache.rescale(0.02) == pytest.approx(0.04)
    # the published Wan 1.3B quartic: P(0.01) ≈ 0.043, so 0.043, 0.086 skip and 0.129 computes
    wan = OmniAvatarConfig.wan_1_3b().tea_cache_coefficients
    cache, pattern = _skips(0.1, [0.01] * 6, wan)
    assert cache.rescale(0.01) == pytest.approx(np.polyval(wan, 0.01))
    assert pattern == [True, False, False, True, False, False, True]
    # past the quartic's last maximum (≈0.079) it falls steeply; a change that big computes
    assert cache.max_change == pytest.approx(0.0792, abs=1e-3)
    assert _skips(0.1, [0.2] * 6, wan)[0].skipped == 0
    assert _skips(0.1, [0.2] * 6)[0].skipped == 0 and _skips(1.0, [0.2] * 6)[0].skipped == 4
    assert trusted_change((1.0, 0.0)) == math.inf
    assert trusted_change(OmniAvatarConfig.wan_14b().tea_cache_coefficients) == pytest.approx(
        0.0663, abs=1e-3
    )


def test_tea_cache_coefficients_follow_the_weights(pipe: OmniAvatarPipeline) -> None:
    assert OmniAvatarConfig.wan_1_3b().tea_cache_coefficients[0] == pytest.approx(-5.21862437e04)
    assert OmniAvatarConfig.wan_14b().tea_cache_coefficients[0] == pytest.approx(-3.03318725e05)
    assert pipe.config.tea_cache_coefficients == (1.0, 0.0)  # tiny shapes: no published fit
    # a polynomial that halves the change skips less than the raw change at the same threshold
    raw = _run(pipe, audio=_speech(0.3), num_steps=8, tea_cache_thresh=1.0)
    halved = _run(
        pipe, audio=_speech(0.3), num_steps=8, tea_cache_thresh=1.0, tea_cache_coefficients=[4, 0]
    )
    assert halved.tea_cache_skips < raw.tea_cache_skips
    with pytest.raises(ValueError, match="tea_cache_coefficients must be finite"):
        _run(pipe, tea_cache_thresh=0.1, tea_cache_coefficients=[float("nan")])


def test_fit_recovers_a_known_polynomial() -> None:
    truth = (3.0, -2.0, 0.5, 0.1, 0.01)
    x = np.linspace(0.0, 0.2, 12)
    fitted = fit_rescale(x.tolist(), np.polyval(truth, x).tolist())
    np.testing.assert_allclose(fitted, truth, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="more than 4 distinct changes"):
        fit_rescale([0.1, 0.2, 0.3], [1.0, 2.0, 3.0])


def test_calibration_script_fits_the_tiny_model(layout: Path, tmp_path: Path) -> None:
    import importlib.util

    import soundfile as sf
    from PIL import Image

    spec = importlib.util.spec_from_file_location(
        "calibrate_teacache", Path(__file__).parents[1] / "bench" / "calibrate_teacache.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    Image.fromarray(_portrait()).save(tmp_path / "p.png")
    sf.write(tmp_path / "s.wav", _speech(0.3), 16_000)
    out = tmp_path / "fit.json"
    args = f"--weights {layout} --portrait {tmp_path / 'p.png'} --audio {tmp_path / 's.wav'}"
    args += " --steps 8 --size 32x32 --device cpu --chunk-frames 9 --overlap-frames 5"
    result = script.main([*args.split(), "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["samples"] == 2 * 7  # 2 CFG branches × 7 consecutive step pairs, one chunk
    assert len(saved["coefficients"]) == 5 and all(map(math.isfinite, saved["coefficients"]))
    assert result.env_line.startswith("OMNIAVATAR_TEA_CACHE_COEFFICIENTS=")
    # the fit describes its samples better than a constant (their mean) does
    y = np.asarray(saved["y"])
    assert saved["rmse"] < float(np.sqrt(np.mean((y - y.mean()) ** 2)))


# --- dtype and torch.compile -----------------------------------------------------------------


def test_dtype_selection() -> None:
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype(None, "cuda") == torch.bfloat16
    assert resolve_dtype("fp16", "cpu") == torch.float16
    assert resolve_dtype("BF16", "cpu") == torch.bfloat16
    assert resolve_dtype(torch.float32, "cuda") == torch.float32
    with pytest.raises(ValueError, match="OMNIAVATAR_DTYPE must be auto, bf16, fp16 or fp32"):
        resolve_dtype("int8", "cpu")


def test_compile_failure_falls_back_to_eager() -> None:
    torch.manual_seed(0)
    dit = OmniAvatarDiT(CFG).eval()
    inputs = (
        torch.randn(1, 16, 2, 4, 4),
        torch.randn(1, 17, 2, 4, 4),
        torch.tensor([500.0]),
        torch.randn(1, 8, CFG.text_dim),
        torch.randn(1, 5, CFG.audio_in_dim),
    )
    with torch.no_grad():
        eager = dit(*inputs)

    def broken_backend(graph: object, example_inputs: object) -> object:
        raise RuntimeError("no compiler on this machine")

    dit.compile_blocks(backend=broken_backend)
    assert dit.compiled and all(b._compiled_call_impl is not None for b in dit.blocks)
    with torch.no_grad():
        fallback = dit(*inputs)
    assert not dit.compiled and "no compiler on this machine" in (dit.compile_error or "")
    torch.testing.assert_close(fallback, eager, rtol=0, atol=0)


# --- several processes: sequence parallel + FSDP (gloo on CPU) --------------------------------


def test_two_ranks_equal_one_process(
    pipe: OmniAvatarPipeline, layout: Path, tmp_path: Path
) -> None:
    """torchrun with 2 gloo processes: the DiT split by tokens and sharded by FSDP gives the
    single-process output within float32 rounding, and so does a whole video."""
    import os
    import subprocess
    import sys

    from PIL import Image

    Image.fromarray(_portrait()).save(tmp_path / "portrait.png")
    np.save(tmp_path / "speech.npy", _speech())
    options = dict(
        num_steps=2,
        size=SIZE,
        chunk_frames=CHUNK,
        overlap_frames=OVERLAP,
        guidance_scale=1.0,
        seed=4,
    )
    job = dict(
        root=str(layout),
        dtype="fp32",
        image=str(tmp_path / "portrait.png"),
        audio=str(tmp_path / "speech.npy"),
        prompt="a news presenter talks",
        out=str(tmp_path / "frames.npy"),
        options=options,
    )
    (tmp_path / "job.json").write_text(json.dumps(job))
    script = Path(__file__).with_name("distributed_check.py")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=2",
            str(script),
            str(tmp_path / "job.json"),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads((tmp_path / "dit_diff.json").read_text())
    assert report["world"] == 2
    assert max(report["diffs"]) < 1e-5, report
    frames = np.load(tmp_path / "frames.npy")
    alone = _run(pipe, seed=4).frames
    assert frames.shape == alone.shape
    assert np.abs(frames.astype(int) - alone.astype(int)).max() <= 1  # uint8 rounding only


def test_benchmark_runs_the_tiny_config_on_cpu_and_writes_json(tmp_path: Path) -> None:
    import subprocess
    import sys

    bench = Path(__file__).resolve().parents[1] / "bench" / "bench_omniavatar.py"
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, str(bench), "--device", "cpu", "--steps", "4", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NO GPU" in done.stdout and "A800" in done.stdout
    rows = json.loads(out.read_text())["rows"]
    assert {(r["resident"], r["tea_cache"]) for r in rows} == {
        ("all", 0.0),
        ("all", 0.14),
        ("7e9", 0.0),
        ("0", 0.0),
    }
    assert all(r["status"] == "measured" and r["s_per_step"] > 0 for r in rows)
