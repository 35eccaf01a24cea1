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
        "scrape-content", "produce-video", "produce-batch", "render-avatar",
        "export-approved", "manual-create", "trim-video",
    }  # fmt: skip
    (step,) = spec["pull"]
    directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
    assert directory.startswith("{{"), "no absolute path in prefect.yaml"
