"""Static checks of what cannot run here (no Docker engine): the compose file for scale-out,
and prefect.yaml's entrypoints."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_wires_postgres_minio_server_and_both_pools() -> None:
    compose = yaml.safe_load((ROOT / "deployments" / "compose.yaml").read_text())
    services = compose["services"]
    assert services["postgres"]["image"].startswith("postgres:")  # official images only
    assert services["minio"]["image"].startswith("minio/minio")
    assert services["server"]["image"].startswith("prefecthq/prefect:")
    assert (
        "postgresql+asyncpg://"
        in services["server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"]
    )
    for pool in ("cpu", "gpu"):
        assert f"--pool {pool}" in services[f"worker-{pool}"]["command"]
        env = services[f"worker-{pool}"]["environment"]
        assert env["ARTIFACT_STORE"] == "s3" and env["S3_ENDPOINT"] == "minio:9000"
    assert "prefect --no-prompt deploy --all" in services["setup"]["command"][-1]
    api = services["api"]  # the REST API on the design's port, bearer tokens required
    assert "--port ${API_PORT:-8000}" in api["command"] and "API_TOKENS" in api["environment"]
    assert api["ports"] == ["${API_PORT:-8000}:${API_PORT:-8000}"]


def test_every_deployment_entrypoint_is_a_flow() -> None:
    from prefect import Flow

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    names = set()
    for dep in spec["deployments"]:
        module, _, attr = dep["entrypoint"].partition(":")
        obj = getattr(importlib.import_module(module.removesuffix(".py").replace("/", ".")), attr)
        assert isinstance(obj, Flow), dep["entrypoint"]
        assert dep.get("enforce_parameter_schema") is True, dep["entrypoint"]
        names.add(obj.name)
    assert names == {
        "scrape-content",
        "produce-video",
        "produce-batch",
        "render-avatar",
        "export-approved",
        "manual-create",
        "trim-video",
    }
    (step,) = spec["pull"]
    directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
    assert directory.startswith("{{"), "no absolute path in prefect.yaml"


def test_gpu_worker_runs_omniavatar_on_a_reserved_gpu_with_the_weights() -> None:
    compose = yaml.safe_load((ROOT / "deployments" / "compose.yaml").read_text())
    worker = compose["services"]["worker-gpu"]
    env = worker["environment"]
    assert env["AVATAR_BACKEND"] == "omniavatar"
    assert "[omniavatar]" in worker["command"]  # the extra: diffusers, transformers, safetensors
    assert "novaavatar doctor" in worker["command"]  # says what is missing at start
    mounts = {
        v.split(":")[-2] if v.endswith(":ro") else v.split(":")[-1]: v for v in worker["volumes"]
    }
    weights = mounts[env["OMNIAVATAR_MODEL_PATH"]]
    assert weights.endswith(":ro") and "OMNIAVATAR_WEIGHTS" in weights
    (device,) = worker["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert "OMNIAVATAR_GPUS" in str(device["count"]) and "OMNIAVATAR_GPUS" in env["OMNIAVATAR_GPUS"]
    assert env["ARTIFACT_STORE"] == "s3"  # the shared environment is still there


def _doctor(env: dict[str, str], pythonpath: str = "") -> str:
    import os
    import subprocess
    import sys

    paths = [p for p in (pythonpath, str(ROOT), os.environ.get("PYTHONPATH", "")) if p]
    done = subprocess.run(
        [sys.executable, "-m", "novaavatar.cli", "doctor"],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env, "PYTHONPATH": os.pathsep.join(paths)},
    )
    return done.stdout + done.stderr


def test_doctor_names_what_omniavatar_lacks(tmp_path: Path) -> None:
    """Without the extra's packages and with an incomplete weights folder, `novaavatar
    doctor` names each missing package and file and how to fix it."""
    hidden = tmp_path / "without_extra"  # shadows the installed package: as if not installed
    (hidden / "diffusers").mkdir(parents=True)
    (hidden / "diffusers" / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'diffusers'\", name='diffusers')\n"
    )
    weights = tmp_path / "pretrained_models"
    (weights / "Wan2.1-T2V-1.3B").mkdir(parents=True)
    (weights / "Wan2.1-T2V-1.3B" / "Wan2.1_VAE.pth").write_bytes(b"")
    base = {"STORAGE_PATH": str(tmp_path / "s"), "AVATAR_BACKEND": "omniavatar"}
    out = _doctor({**base, "OMNIAVATAR_MODEL_PATH": str(weights)}, str(hidden))
    assert "FAIL  omniavatar packages" in out and "missing: diffusers" in out
    assert "pip install -e '.[omniavatar]'" in out
    assert "FAIL  omniavatar weights" in out
    for name in (
        "Wan2.1-T2V-1.3B/diffusion_pytorch_model.safetensors",
        "Wan2.1-T2V-1.3B/models_t5_umt5-xxl-enc-bf16.pth",
        "wav2vec2-base-960h/config.json",
        "OmniAvatar-1.3B/pytorch_model.pt",
    ):
        assert name in out, name
    assert "Wan2.1_VAE.pth" not in out.split("FAIL  omniavatar weights")[1].split("\n")[0]
    unset = _doctor(base)
    assert "OMNIAVATAR_MODEL_PATH is not set" in unset and "ok    omniavatar packages" in unset
