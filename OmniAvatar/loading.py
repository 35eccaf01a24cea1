"""Load the published checkpoint layout directly::

    <root>/Wan2.1-T2V-1.3B/                  (or Wan2.1-T2V-14B)
        config.json                          DiT shapes (dim, num_layers, ...)
        diffusion_pytorch_model.safetensors  or ...-0000k-of-0000n.safetensors + .index.json
        models_t5_umt5-xxl-enc-bf16.pth      Wan's UMT5-XXL encoder state dict
        google/umt5-xxl/                     its tokenizer
        Wan2.1_VAE.pth                       Wan's video VAE state dict
    <root>/wav2vec2-base-960h/               a transformers folder
    <root>/OmniAvatar-1.3B/                  (or OmniAvatar-14B)
        config.json                          lora_rank, lora_alpha, audio_hidden_size, ...
        pytorch_model.pt                     LoRA A/B, 33-channel patch embedding, audio modules

Every published key is renamed by :data:`KEY_TABLES` (one regex table per component);
loading fails on any key no rule maps, any parameter left without a value, or any shape
that differs. LoRA is merged into the base weights (W += alpha/rank · B·A) at load time, in
float32, with one cast to the compute dtype at the end.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from OmniAvatar.config import TEA_CACHE_IDENTITY, OmniAvatarConfig

Rule = tuple[str, str | Callable[[re.Match[str]], str]]

_DIT_RULES: list[Rule] = [
    (r"patch_embedding\.(weight|bias)", r"patch_embed.\1"),
    (r"text_embedding\.0\.(weight|bias)", r"text_embed.fc1.\1"),
    (r"text_embedding\.2\.(weight|bias)", r"text_embed.fc2.\1"),
    (r"time_embedding\.0\.(weight|bias)", r"time_embed.fc1.\1"),
    (r"time_embedding\.2\.(weight|bias)", r"time_embed.fc2.\1"),
    (r"time_projection\.1\.(weight|bias)", r"time_modulation.\1"),
    (r"blocks\.(\d+)\.modulation", r"blocks.\1.modulation"),
    (r"blocks\.(\d+)\.(self_attn|cross_attn)\.([qkvo])\.(weight|bias)", r"blocks.\1.\2.\3.\4"),
    (r"blocks\.(\d+)\.(self_attn|cross_attn)\.(norm_[qk])\.weight", r"blocks.\1.\2.\3.weight"),
    (r"blocks\.(\d+)\.norm3\.(weight|bias)", r"blocks.\1.cross_attn_norm.\2"),
    (r"blocks\.(\d+)\.ffn\.0\.(weight|bias)", r"blocks.\1.ffn.fc1.\2"),
    (r"blocks\.(\d+)\.ffn\.2\.(weight|bias)", r"blocks.\1.ffn.fc2.\2"),
    (r"head\.head\.(weight|bias)", r"head.proj.\1"),
    (r"head\.modulation", r"head.modulation"),
    # OmniAvatar's audio modules (pytorch_model.pt)
    (r"audio_proj\.proj\.(weight|bias)", r"audio_pack.proj.\1"),
    (r"audio_proj\.norm_out\.(weight|bias)", r"audio_pack.norm.\1"),
    (r"audio_cond_projs\.(\d+)\.(weight|bias)", r"audio_injections.\1.\2"),
]

_T5_RULES: list[Rule] = [
    (r"token_embedding\.weight", "shared.weight"),
    (r"blocks\.(\d+)\.norm1\.weight", r"encoder.block.\1.layer.0.layer_norm.weight"),
    (r"blocks\.(\d+)\.attn\.([qkvo])\.weight", r"encoder.block.\1.layer.0.SelfAttention.\2.weight"),
    (
        r"blocks\.(\d+)\.pos_embedding\.embedding\.weight",
        r"encoder.block.\1.layer.0.SelfAttention.relative_attention_bias.weight",
    ),
    (r"blocks\.(\d+)\.norm2\.weight", r"encoder.block.\1.layer.1.layer_norm.weight"),
    (
        r"blocks\.(\d+)\.ffn\.gate\.0\.weight",
        r"encoder.block.\1.layer.1.DenseReluDense.wi_0.weight",
    ),
    (r"blocks\.(\d+)\.ffn\.fc1\.weight", r"encoder.block.\1.layer.1.DenseReluDense.wi_1.weight"),
    (r"blocks\.(\d+)\.ffn\.fc2\.weight", r"encoder.block.\1.layer.1.DenseReluDense.wo.weight"),
    (r"norm\.weight", "encoder.final_layer_norm.weight"),
]

# Wan's residual block is Sequential(norm, SiLU, conv, norm, SiLU, dropout, conv)
_VAE_RESIDUAL = (
    r"(?:residual\.0\.gamma|residual\.2\.(?:weight|bias)|residual\.3\.gamma"
    r"|residual\.6\.(?:weight|bias)|shortcut\.(?:weight|bias))"
)
_VAE_RESIDUAL_NAMES = {
    "residual.0": "norm1",
    "residual.2": "conv1",
    "residual.3": "norm2",
    "residual.6": "conv2",
    "shortcut": "conv_shortcut",
}


def _vae_residual(name: str) -> str:
    for old, new in _VAE_RESIDUAL_NAMES.items():
        if name.startswith(old + "."):
            return new + name[len(old) :]
    raise KeyError(name)


def _vae_rules(num_res_blocks: int) -> list[Rule]:
    """Wan's VAE decoder keeps its up blocks in one flat list; diffusers groups them per stage
    (num_res_blocks + 1 residual blocks, then an upsampler)."""
    per_stage = num_res_blocks + 2

    def up(m: re.Match[str]) -> str:
        stage, j = divmod(int(m[1]), per_stage)
        if j == per_stage - 1:
            return f"decoder.up_blocks.{stage}.upsamplers.0.{m[2]}"
        return f"decoder.up_blocks.{stage}.resnets.{j}.{_vae_residual(m[2])}"

    def mid(m: re.Match[str]) -> str:
        if m[2] == "1":
            return f"{m[1]}.mid_block.attentions.0.{m[3]}"
        return f"{m[1]}.mid_block.resnets.{int(m[2]) // 2}.{_vae_residual(m[3])}"

    return [
        (r"conv1\.(weight|bias)", r"quant_conv.\1"),
        (r"conv2\.(weight|bias)", r"post_quant_conv.\1"),
        (r"(encoder|decoder)\.conv1\.(weight|bias)", r"\1.conv_in.\2"),
        (r"(encoder|decoder)\.head\.0\.gamma", r"\1.norm_out.gamma"),
        (r"(encoder|decoder)\.head\.2\.(weight|bias)", r"\1.conv_out.\2"),
        (rf"(encoder|decoder)\.middle\.([02])\.({_VAE_RESIDUAL})", mid),
        (
            r"(encoder|decoder)\.middle\.(1)\.(norm\.gamma|to_qkv\.(?:weight|bias)|proj\.(?:weight|bias))",
            mid,
        ),
        (
            rf"encoder\.downsamples\.(\d+)\.({_VAE_RESIDUAL})",
            lambda m: f"encoder.down_blocks.{m[1]}.{_vae_residual(m[2])}",
        ),
        (
            r"encoder\.downsamples\.(\d+)\.(resample\.1\.(?:weight|bias)|time_conv\.(?:weight|bias))",
            r"encoder.down_blocks.\1.\2",
        ),
        (
            rf"decoder\.upsamples\.(\d+)\.({_VAE_RESIDUAL}|resample\.1\.(?:weight|bias)|time_conv\.(?:weight|bias))",
            up,
        ),
    ]


# The one place published names meet ours: component -> rules (VAE rules depend on its depth).
KEY_TABLES: dict[str, Callable[..., list[Rule]]] = {
    "dit": lambda: _DIT_RULES,
    "t5": lambda: _T5_RULES,
    "vae": _vae_rules,
}

_LORA_KEY = re.compile(r"(?P<target>.+)\.lora_(?P<ab>[AB])(?:\.default)?\.weight")
# LoRA targets: attention q/k/v/o and both FFN linears (published names)
_LORA_TARGET = re.compile(r"blocks\.\d+\.(?:self_attn|cross_attn)\.[qkvo]|blocks\.\d+\.ffn\.[02]")


class KeyMappingError(KeyError):
    """A checkpoint's keys do not match the model: unmapped, missing, unexpected or misshapen."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def rename_key(key: str, rules: Iterable[Rule]) -> str | None:
    """The model name of a published key, or None when no rule maps it."""
    for pattern, replacement in rules:
        m = re.fullmatch(pattern, key)
        if m:
            return replacement(m) if callable(replacement) else m.expand(replacement)
    return None


def _sample(keys: Iterable[str], n: int = 8) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:n]) + (f" … (+{len(keys) - n})" if len(keys) > n else "")


def map_state_dict(
    source: Mapping[str, Tensor],
    rules: list[Rule],
    model: nn.Module,
    what: str,
    skip_targets: Iterable[str] = (),
) -> dict[str, Tensor]:
    """Rename ``source`` with ``rules`` and check it covers ``model`` exactly (names and shapes)."""
    renamed: dict[str, Tensor] = {}
    unmapped = []
    for key, tensor in source.items():
        new = rename_key(key, rules)
        if new is None:
            unmapped.append(key)
        else:
            renamed[new] = tensor
    if unmapped:
        raise KeyMappingError(f"{what}: {len(unmapped)} key(s) no rule maps: {_sample(unmapped)}")
    expected = {k: v.shape for k, v in model.state_dict().items() if k not in set(skip_targets)}
    missing = expected.keys() - renamed.keys()
    unexpected = renamed.keys() - expected.keys()
    if missing or unexpected:
        raise KeyMappingError(
            f"{what}: {len(missing)} parameter(s) missing ({_sample(missing)}); "
            f"{len(unexpected)} unexpected ({_sample(unexpected)})"
        )
    wrong = [
        f"{k} {tuple(renamed[k].shape)} != {tuple(s)}"
        for k, s in expected.items()
        if renamed[k].shape != s
    ]
    if wrong:
        raise KeyMappingError(f"{what}: {len(wrong)} shape mismatch(es): {_sample(wrong, 4)}")
    return renamed


def read_safetensors_dir(folder: Path, stem: str = "diffusion_pytorch_model") -> dict[str, Tensor]:
    """One ``<stem>.safetensors`` or the shards its ``<stem>.safetensors.index.json`` lists."""
    from safetensors.torch import load_file

    index = folder / f"{stem}.safetensors.index.json"
    if index.exists():
        weight_map: dict[str, str] = json.loads(index.read_text())["weight_map"]
        out: dict[str, Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            tensors = load_file(folder / shard)
            listed = {k for k, v in weight_map.items() if v == shard}
            if listed != tensors.keys():
                raise KeyMappingError(
                    f"{folder / shard}: keys differ from {index.name} "
                    f"({_sample(listed ^ tensors.keys())})"
                )
            out.update(tensors)
        return out
    single = folder / f"{stem}.safetensors"
    if not single.exists():
        raise FileNotFoundError(f"no {single.name} or {index.name} in {folder}")
    return load_file(single)


def read_torch_file(path: Path) -> dict[str, Tensor]:
    """A ``.pth`` / ``.pt`` state dict, memory-mapped, tensors only (no pickled code runs)."""
    if not path.exists():
        raise FileNotFoundError(f"missing checkpoint {path}")
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(f"{path} is not a state dict of tensors")
    return state


@dataclass(frozen=True)
class CheckpointPaths:
    """Where each published component lives under one ``pretrained_models`` root."""

    base: Path  # Wan2.1-T2V-<size>
    wav2vec: Path
    omni: Path  # OmniAvatar-<size>

    @classmethod
    def locate(cls, root: Path, use_14b: bool = False) -> CheckpointPaths:
        size = "14B" if use_14b else "1.3B"
        paths = cls(
            root / f"Wan2.1-T2V-{size}", root / "wav2vec2-base-960h", root / f"OmniAvatar-{size}"
        )
        missing = [p for p in paths.required_files() if not p.exists()]
        dit = paths.base / "diffusion_pytorch_model.safetensors"
        if not dit.exists() and not dit.with_name(dit.name + ".index.json").exists():
            missing.insert(0, dit)  # the DiT: one file, or shards listed by an index
        if missing:
            raise FileNotFoundError(
                f"OmniAvatar {size} weights incomplete under {root}: missing "
                + ", ".join(str(p.relative_to(root)) for p in missing)
            )
        return paths

    def required_files(self) -> list[Path]:
        return [
            self.base / "models_t5_umt5-xxl-enc-bf16.pth",
            self.base / "Wan2.1_VAE.pth",
            self.wav2vec / "config.json",
            self.omni / "config.json",
            self.omni / "pytorch_model.pt",
        ]


def read_dit_config(paths: CheckpointPaths, use_14b: bool) -> OmniAvatarConfig:
    """DiT shapes from the base ``config.json`` (the preset when absent) + OmniAvatar's."""
    cfg = OmniAvatarConfig.wan_14b() if use_14b else OmniAvatarConfig.wan_1_3b()
    base_file = paths.base / "config.json"
    changes: dict[str, Any] = {}
    if base_file.exists():
        base = json.loads(base_file.read_text())
        for ours, theirs in (
            ("dim", "dim"),
            ("num_layers", "num_layers"),
            ("num_heads", "num_heads"),
            ("ffn_dim", "ffn_dim"),
            ("freq_dim", "freq_dim"),
            ("text_len", "text_len"),
            ("out_dim", "out_dim"),
            ("eps", "eps"),
            ("text_dim", "text_dim"),
        ):
            if theirs in base:
                changes[ours] = base[theirs]
        if "out_dim" in base:
            changes["latent_dim"] = base["out_dim"]
    omni = json.loads((paths.omni / "config.json").read_text())
    for ours, theirs in (
        ("lora_rank", "lora_rank"),
        ("lora_alpha", "lora_alpha"),
        ("audio_hidden_size", "audio_hidden_size"),
        ("in_dim", "in_dim"),
    ):
        if theirs in omni:
            changes[ours] = omni[theirs]
    wav = json.loads((paths.wav2vec / "config.json").read_text())
    changes["audio_in_dim"] = wav["hidden_size"] * (wav["num_hidden_layers"] + 2)
    loaded = cfg.replace(**changes)
    if loaded != cfg:  # the preset's TeaCache polynomial was fitted for the preset's shapes only
        loaded = loaded.replace(tea_cache_coefficients=TEA_CACHE_IDENTITY, name="custom")
    return loaded


def merge_lora(
    weights: dict[str, Tensor],
    lora: Mapping[str, Tensor],
    scale: float,
    rank: int,
    dtype: torch.dtype = torch.float32,
) -> int:
    """W += scale · B·A for every LoRA pair (published names); returns how many were merged.

    The sum is taken in float32 and cast once, to ``dtype`` (the compute dtype), never back
    to the file's bf16: rounding the merged weight to bf16 and then computing in float32
    would differ from the published inference (LoRA kept beside the bf16 base) by ~1e-3.
    """
    pairs: dict[str, dict[str, Tensor]] = {}
    for key, tensor in lora.items():
        m = _LORA_KEY.fullmatch(key)
        assert m is not None
        pairs.setdefault(m["target"], {})[m["ab"]] = tensor
    for target, ab in pairs.items():
        if set(ab) != {"A", "B"}:
            raise KeyMappingError(f"LoRA {target}: has only lora_{''.join(ab)}, needs A and B")
        if not _LORA_TARGET.fullmatch(target):
            raise KeyMappingError(f"LoRA target {target} is not an attention q/k/v/o or FFN linear")
        base_key = target + ".weight"
        if base_key not in weights:
            raise KeyMappingError(f"LoRA target {base_key} is not in the base DiT")
        a, b, w = ab["A"].float(), ab["B"].float(), weights[base_key]
        if a.shape[0] != rank or b.shape[1] != rank or (b.shape[0], a.shape[1]) != tuple(w.shape):
            raise KeyMappingError(
                f"LoRA {target}: A {tuple(a.shape)}, B {tuple(b.shape)} do not fit weight "
                f"{tuple(w.shape)} at rank {rank}"
            )
        weights[base_key] = (w.float() + scale * (b @ a)).to(dtype)
    return len(pairs)


def load_dit(
    paths: CheckpointPaths,
    cfg: OmniAvatarConfig,
    dtype: torch.dtype = torch.bfloat16,
    device: str | torch.device = "cpu",
) -> Any:
    """The DiT with OmniAvatar's patch embedding, audio modules and merged LoRA."""
    from OmniAvatar.model import OmniAvatarDiT

    weights = read_safetensors_dir(paths.base)
    omni = read_torch_file(paths.omni / "pytorch_model.pt")
    lora = {k: v for k, v in omni.items() if _LORA_KEY.fullmatch(k)}
    # full tensors in OmniAvatar's file (33-channel patch embedding, audio) replace the base ones
    weights.update({k: v for k, v in omni.items() if k not in lora})
    merge_lora(weights, lora, cfg.lora_scale, cfg.lora_rank, dtype)
    with torch.device("meta"):
        model = OmniAvatarDiT(cfg)
    state = map_state_dict(weights, KEY_TABLES["dit"](), model, "DiT")
    model.load_state_dict(
        {k: v.to(device=device, dtype=dtype) for k, v in state.items()}, assign=True
    )
    return model.eval().requires_grad_(False)


def vae_shape_from_keys(keys: Iterable[str], state: Mapping[str, Tensor]) -> dict[str, Any]:
    """AutoencoderKLWan arguments read off a Wan VAE state dict (works for any depth)."""
    keys = list(keys)
    enc = {int(m[1]) for k in keys if (m := re.match(r"encoder\.downsamples\.(\d+)\.", k))}
    dec = {int(m[1]) for k in keys if (m := re.match(r"decoder\.upsamples\.(\d+)\.", k))}
    stages = len(dec) - len(enc)
    if stages <= 0 or (len(enc) - stages + 1) % stages:
        raise KeyMappingError(
            f"Wan VAE: {len(enc)} encoder / {len(dec)} decoder blocks fit no layout"
        )
    num_res_blocks = (len(enc) - stages + 1) // stages
    base_dim = state["encoder.conv1.weight"].shape[0]
    dim_mult, temporal = [], []
    for s in range(stages):
        first = s * (num_res_blocks + 1)
        dim_mult.append(
            state[f"encoder.downsamples.{first}.residual.6.weight"].shape[0] // base_dim
        )
        if s < stages - 1:
            temporal.append(
                f"encoder.downsamples.{first + num_res_blocks}.time_conv.weight" in state
            )
    return dict(
        base_dim=base_dim,
        z_dim=state["conv2.weight"].shape[0],
        dim_mult=dim_mult,
        num_res_blocks=num_res_blocks,
        attn_scales=[],
        temperal_downsample=temporal,
    )


def load_vae(
    path: Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> Any:
    """diffusers ``AutoencoderKLWan`` from Wan's ``Wan2.1_VAE.pth``."""
    from diffusers import AutoencoderKLWan

    state = read_torch_file(path)
    shape = vae_shape_from_keys(state.keys(), state)
    vae: Any = AutoencoderKLWan(**shape)
    mapped = map_state_dict(state, KEY_TABLES["vae"](shape["num_res_blocks"]), vae, "VAE")
    vae.load_state_dict(mapped, strict=True)
    return vae.to(device=device, dtype=dtype).eval().requires_grad_(False)


def load_text_encoder(
    base: Path, dtype: torch.dtype = torch.bfloat16, device: str | torch.device = "cpu"
) -> tuple[Any, Any]:
    """transformers ``UMT5EncoderModel`` from Wan's T5 ``.pth`` (shapes read off the weights)
    and the tokenizer in ``google/umt5-xxl``."""
    from transformers import AutoTokenizer, UMT5Config, UMT5EncoderModel

    state = read_torch_file(base / "models_t5_umt5-xxl-enc-bf16.pth")
    vocab, d_model = state["token_embedding.weight"].shape
    layers = len({m[1] for k in state if (m := re.match(r"blocks\.(\d+)\.", k))})
    buckets, heads = state["blocks.0.pos_embedding.embedding.weight"].shape
    settings: dict[str, Any] = dict(
        vocab_size=vocab,
        d_model=d_model,
        d_kv=d_model // heads,
        d_ff=state["blocks.0.ffn.fc1.weight"].shape[0],
        num_layers=layers,
        num_heads=heads,
        relative_attention_num_buckets=buckets,
        feed_forward_proj="gated-gelu",
        layer_norm_epsilon=1e-6,
        tie_word_embeddings=False,
    )
    config = UMT5Config(**settings)
    with torch.device("meta"):
        model = UMT5EncoderModel(config)
    # encoder.embed_tokens is the same tensor as shared
    mapped = map_state_dict(
        state, KEY_TABLES["t5"](), model, "T5", skip_targets=["encoder.embed_tokens.weight"]
    )
    mapped["encoder.embed_tokens.weight"] = mapped["shared.weight"]
    model.load_state_dict(
        {k: v.to(device=device, dtype=dtype) for k, v in mapped.items()}, strict=True, assign=True
    )
    model.encoder.embed_tokens = model.shared
    tokenizer = AutoTokenizer.from_pretrained(base / "google" / "umt5-xxl")
    return model.eval().requires_grad_(False), tokenizer


def load_audio_encoder(
    folder: Path, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
) -> Any:
    from transformers import Wav2Vec2Model

    model: Any = Wav2Vec2Model.from_pretrained(folder, dtype=dtype)
    return model.to(device).eval().requires_grad_(False)
