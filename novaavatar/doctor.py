"""`novaavatar doctor`: what works on this install, and how to fix what does not."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from novaavatar.settings import Settings


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    essential: bool = True


def _python(_: Settings) -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, platform.python_version(), "install Python 3.11 or newer")


def _ffmpeg(_: Settings) -> Check:
    from novaavatar.media import ffmpeg_exe

    try:
        exe = ffmpeg_exe()
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20)
        first = out.stdout.splitlines()[0] if out.stdout else "no output"
        source = "system" if shutil.which("ffmpeg") == exe else "imageio-ffmpeg wheel"
        return Check(
            "ffmpeg", out.returncode == 0, f"{first} ({source})", "pip install imageio-ffmpeg"
        )
    except Exception as e:
        return Check("ffmpeg", False, str(e), "pip install imageio-ffmpeg (or install ffmpeg)")


def _espeak(s: Settings) -> Check:
    try:
        from tasks.speech import espeak

        speech = espeak.synthesize("Testing.", voice=s.tts_voice, rate_wpm=s.tts_speed)
        return Check(
            "espeak-ng", speech.duration_s > 0, f"voice {s.tts_voice}, {speech.sample_rate} Hz"
        )
    except Exception as e:
        return Check("espeak-ng", False, str(e), "pip install espeakng-loader; check TTS_VOICE")


def _store(s: Settings) -> Check:
    from novaavatar.store import get_store

    try:
        store = get_store(s)
        key = "doctor/probe.txt"
        store.put_bytes(key, b"ok")
        ok = store.get_bytes(key) == b"ok"
        store.delete(key)
        return Check("artifact store", ok, f"{store.uri} is writable")
    except Exception as e:
        return Check(
            "artifact store",
            False,
            f"cannot write: {e}",
            f"make {s.storage_path} writable or set STORAGE_PATH to a writable folder",
        )


def _prefect_api(_: Settings) -> Check:
    import httpx

    url = os.environ.get("PREFECT_API_URL")
    if not url:
        try:
            from prefect.settings import PREFECT_API_URL

            url = PREFECT_API_URL.value()
        except Exception:
            url = None
    if not url:
        return Check(
            "prefect api",
            True,
            "no PREFECT_API_URL: flows start a temporary local server",
            "run `make up` for a persistent server and the UI",
            essential=False,
        )
    try:
        r = httpx.get(url.rstrip("/") + "/health", timeout=5)
        return Check("prefect api", r.status_code == 200, f"{url} answered {r.status_code}")
    except httpx.HTTPError as e:
        return Check(
            "prefect api",
            False,
            f"{url} unreachable ({type(e).__name__})",
            "start it with `make up`, or unset PREFECT_API_URL to use a temporary server",
        )


def _keys(s: Settings) -> list[Check]:
    better = {
        "openai_api_key": "script (OpenAI) and OpenAI TTS",
        "replicate_api_token": "Flux backgrounds",
        "reddit_client_id": "Reddit source",
        "newsapi_key": "NewsAPI source",
    }
    out = []
    for field, what in better.items():
        present = getattr(s, field) is not None
        out.append(
            Check(
                f"key {field.upper()}",
                True,
                f"set: {what} enabled"
                if present
                else f"not set: {what} off (offline default used)",
                "" if present else f"set {field.upper()} in .env to enable {what}",
                essential=False,
            )
        )
    return out


def _models(s: Settings) -> list[Check]:
    out = []
    for field, what in (("dia_model_path", "Dia voice"),):
        path: Path | None = getattr(s, field)
        if path is None:
            out.append(Check(what, True, "not configured (offline default used)", essential=False))
        else:
            out.append(
                Check(
                    what,
                    path.is_dir(),
                    f"{path} {'found' if path.is_dir() else 'missing'}",
                    f"point {field.upper()} at the model folder",
                    essential=False,
                )
            )
    return out


OMNIAVATAR_PACKAGES = ("diffusers", "transformers", "safetensors")  # the [omniavatar] extra


def _omniavatar(s: Settings) -> list[Check]:
    """With AVATAR_BACKEND=omniavatar: the extra's packages, every published weight file and
    the GPUs asked for, each named when missing (the avatar stage would fall back to lite)."""
    wanted = s.avatar_backend == "omniavatar"
    if not wanted and s.omniavatar_model_path is None:
        return [Check("omniavatar", True, "AVATAR_BACKEND=lite: not used", essential=False)]
    import importlib

    missing = []
    for name in OMNIAVATAR_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    out = [
        Check(
            "omniavatar packages",
            not missing,
            f"missing: {', '.join(missing)}" if missing else ", ".join(OMNIAVATAR_PACKAGES),
            "pip install -e '.[omniavatar]' on the GPU worker",
            essential=wanted,
        )
    ]
    size = "14B" if s.use_14b_model else "1.3B"
    if s.omniavatar_model_path is None:
        out.append(
            Check(
                "omniavatar weights",
                False,
                "OMNIAVATAR_MODEL_PATH is not set",
                "set OMNIAVATAR_MODEL_PATH to the pretrained_models folder "
                "(see OmniAvatar/README.md)",
                essential=wanted,
            )
        )
    else:
        from OmniAvatar.loading import CheckpointPaths

        try:
            CheckpointPaths.locate(Path(s.omniavatar_model_path), s.use_14b_model)
            out.append(Check("omniavatar weights", True, f"{size} under {s.omniavatar_model_path}"))
        except FileNotFoundError as e:
            out.append(
                Check(
                    "omniavatar weights",
                    False,
                    str(e),
                    f"download the published {size} files into {s.omniavatar_model_path} "
                    "(layout in OmniAvatar/README.md) or fix OMNIAVATAR_MODEL_PATH",
                    essential=wanted,
                )
            )
    import torch

    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    enough = gpus >= s.omniavatar_gpus
    out.append(
        Check(
            "omniavatar gpus",
            enough and gpus > 0,
            f"{gpus} CUDA GPU(s), OMNIAVATAR_GPUS={s.omniavatar_gpus}"
            + ("" if gpus else ": without a GPU OmniAvatar runs on the CPU, very slowly"),
            "give the worker the GPUs (compose: deploy.resources) or lower OMNIAVATAR_GPUS",
            essential=wanted and s.omniavatar_gpus > 1,
        )
    )
    return out


def _gpu(_: Settings) -> Check:
    try:
        import torch

        if torch.cuda.is_available():
            return Check("gpu", True, torch.cuda.get_device_name(0), essential=False)
        return Check("gpu", True, "none: the lite CPU renderer is used", essential=False)
    except Exception as e:
        return Check("gpu", True, f"torch unavailable ({e})", essential=False)


def _presenter(s: Settings) -> list[Check]:
    """DEFAULT_PRESENTER names a stored presenter whose portrait has its consent."""
    if not s.default_presenter:
        return []
    from novaavatar import consent, presenters
    from novaavatar.store import get_store

    fix = "novaavatar presenter list; add it (presenter add) or change DEFAULT_PRESENTER"
    try:
        store = get_store(s)
        p = presenters.resolve(s.default_presenter, store)
        ok = consent.consent_for(store, p.portrait_key) is not None
        return [Check("default presenter", ok, f"{p.ref}: {p.voice.describe()}, {p.layout}", fix)]
    except Exception as e:
        return [Check("default presenter", False, str(e), fix)]


def _temp(_: Settings) -> Check:
    try:
        with tempfile.NamedTemporaryFile() as fh:
            fh.write(b"x")
        return Check("temp folder", True, tempfile.gettempdir())
    except OSError as e:
        return Check("temp folder", False, str(e), "set TMPDIR to a writable folder")


CHECKS: list[Callable[[Settings], Check | list[Check]]] = [
    _python,
    _ffmpeg,
    _espeak,
    _temp,
    _store,
    _prefect_api,
    _keys,
    _models,
    _omniavatar,
    _gpu,
    _presenter,
]


def run_checks(settings: Settings) -> list[Check]:
    out: list[Check] = []
    for check in CHECKS:
        result = check(settings)
        out.extend(result if isinstance(result, list) else [result])
    return out
