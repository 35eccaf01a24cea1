"""Background provider: Flux (schnell or dev) on Replicate, through the official SDK.

A prediction is created with the scene description plus a style preset, the aspect ratio
nearest to the frame and N candidate images; it is polled until it ends or the deadline
passes (then it is cancelled). Each output is downloaded with a size limit, validated with
Pillow, and the calmest candidate (least detail behind the presenter) is cropped and
resized to the exact frame and saved as PNG.

Rate limits and server errors are retried by our transport under the SDK, within the
deadline: the SDK's own retry layer sleeps for any Retry-After without a bound, so ours
never hands it a retryable status (it gives up with a ProviderError instead).
"""

from __future__ import annotations

import io
import logging
import math
import random
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image, ImageOps
from pydantic import SecretStr

from novaavatar.errors import ProviderError
from novaavatar.providers import retry_after_s
from tasks.background.seeds import seed_for

log = logging.getLogger("novaavatar.background.flux")

FLUX_MODELS = {
    "schnell": "black-forest-labs/flux-schnell",  # fast: 4 steps, ~1-2 s an image
    "dev": "black-forest-labs/flux-dev",  # quality: ~28 steps
}
# USD per output image, Replicate list prices.
PRICE_PER_IMAGE = {"schnell": 0.003, "dev": 0.025}
# Aspect ratios the Flux models accept.
FLUX_ASPECTS = ("1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21")
STYLE_PRESETS = {
    "studio": "modern broadcast studio backdrop, soft bokeh lights, depth of field, "
    "professional lighting",
    "photo": "photorealistic, natural light, shallow depth of field, 35mm photograph",
    "cinematic": "cinematic wide shot, dramatic lighting, rich colour grading",
    "illustration": "clean flat vector illustration, soft muted palette, simple shapes",
    "abstract": "abstract soft gradients and shapes, calm colours, minimal",
}
# Always: room for the presenter in front, nothing to read.
PROMPT_SUFFIX = "uncluttered centre, no people in the foreground, no text, no letters, no logos"
MAX_IMAGE_PIXELS = 4096 * 4096
MAX_BACKOFF_S = 8.0


def aspect_ratio_for(size: tuple[int, int]) -> str:
    """The Flux aspect ratio nearest to ``size`` (width, height)."""
    target = math.log(size[0] / size[1])

    def distance(a: str) -> float:
        w, h = (int(x) for x in a.split(":"))
        return abs(math.log(w / h) - target)

    return min(FLUX_ASPECTS, key=distance)


def build_prompt(scene: str, keywords: tuple[str, ...], style: str) -> str:
    scene = " ".join(scene.split()) or "a calm news backdrop"
    topic = f"Theme: {', '.join(keywords[:4])}. " if keywords else ""
    return f"{scene.rstrip('.')}. {topic}{STYLE_PRESETS[style]}; {PROMPT_SUFFIX}."


class ReplicateUnavailable(ProviderError):
    """Replicate kept answering 429/5xx (or asked to wait past the deadline)."""


class BoundedRetryTransport(httpx.HTTPTransport):
    """Retries 429 (any method: the request was refused, nothing was created) and 5xx or
    transport errors on GET, honouring Retry-After, within ``deadline`` (monotonic)."""

    def __init__(self, deadline: float, max_retries: int, timeout_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deadline = deadline
        self.max_retries = max_retries
        self.timeout_s = timeout_s

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # the SDK sends its create request with timeouts switched off: bound every request
        timeouts = request.extensions.get("timeout") or {}
        request.extensions["timeout"] = {
            k: self.timeout_s if timeouts.get(k) is None else timeouts[k]
            for k in ("connect", "read", "write", "pool")
        }
        attempt = 0
        while True:
            if time.monotonic() > self.deadline:
                raise ReplicateUnavailable(f"Replicate: out of time before {request.method}")
            try:
                response = super().handle_request(request)
            except httpx.TransportError as e:
                if request.method != "GET":
                    raise
                reason, wait = f"{type(e).__name__}", self._backoff(attempt)
            else:
                status = response.status_code
                if not (status == 429 or (request.method == "GET" and status >= 500)):
                    return response
                response.read()
                response.close()
                after = retry_after_s(response.headers)
                reason = f"{status}" + (f" (Retry-After {after:g} s)" if after is not None else "")
                wait = self._backoff(attempt) if after is None else after
            attempt += 1
            where = f"{request.method} {request.url.path}"
            if attempt > self.max_retries:
                raise ReplicateUnavailable(
                    f"Replicate answered {reason} to {where} {attempt} times"
                )
            if wait > self.deadline - time.monotonic():
                raise ReplicateUnavailable(
                    f"Replicate answered {reason} to {where}; waiting {wait:g} s would pass "
                    "the deadline"
                )
            log.info("background: Replicate %s on %s; retrying in %.1f s", reason, where, wait)
            time.sleep(wait)

    @staticmethod
    def _backoff(attempt: int) -> float:
        return min(0.5 * 2**attempt, MAX_BACKOFF_S) * random.uniform(0.75, 1.0)


def _busyness(img: Image.Image) -> float:
    """Mean gradient in the centre, where the presenter stands: lower is calmer."""
    g = np.asarray(img.convert("L").resize((128, 128)), dtype=np.float32)[32:112, 32:96]
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


class FluxBackgroundProvider:
    """Backdrops generated by Flux on Replicate; needs REPLICATE_API_TOKEN."""

    name = "flux"

    def __init__(
        self,
        api_token: SecretStr | str | None,
        *,
        model: str = "schnell",
        base_url: str | None = None,
        candidates: int = 1,
        style: str = "studio",
        timeout_s: float = 30.0,
        deadline_s: float = 180.0,
        poll_interval_s: float = 1.0,
        max_retries: int = 4,
        max_download_bytes: int = 25 * 1024 * 1024,
    ) -> None:
        if model not in FLUX_MODELS:
            raise ValueError(
                f"FLUX_MODEL={model!r} is invalid: choose one of {', '.join(FLUX_MODELS)}"
            )
        if style not in STYLE_PRESETS:
            raise ValueError(
                f"BACKGROUND_STYLE={style!r} is invalid: choose one of {', '.join(STYLE_PRESETS)}"
            )
        if not 1 <= candidates <= 4:
            raise ValueError(f"BACKGROUND_CANDIDATES={candidates} is invalid: allowed 1–4")
        if isinstance(api_token, str):
            api_token = SecretStr(api_token)
        self._token = api_token if api_token and api_token.get_secret_value() else None
        self.model = model
        self.base_url = base_url or None
        self.candidates = candidates
        self.style = style
        self.timeout_s = timeout_s
        self.deadline_s = deadline_s
        self.poll_interval_s = poll_interval_s
        self.max_retries = max_retries
        self.max_download_bytes = max_download_bytes
        # What the last make() did, for the stage record.
        self.cost_usd = 0.0
        self.images = 0
        self.notes: list[str] = []

    def __repr__(self) -> str:  # never show the token
        return f"FluxBackgroundProvider(model={self.model!r}, base_url={self.base_url!r})"

    def available(self) -> bool:
        if self._token is None:
            log.info("background: Flux skipped, REPLICATE_API_TOKEN is not set")
            return False
        return True

    def make(
        self,
        prompt: str,
        keywords: tuple[str, ...],
        size: tuple[int, int],
        out: Path,
        variant: int = 0,
    ) -> int:
        import replicate
        from replicate.exceptions import ModelError, ReplicateError

        if self._token is None:
            raise ProviderError("Flux: no Replicate token (set REPLICATE_API_TOKEN)")
        self.cost_usd, self.images, self.notes = 0.0, 0, []
        seed = seed_for(prompt, keywords, size, variant)
        flux_input: dict[str, Any] = {
            "prompt": build_prompt(prompt, keywords, self.style),
            "aspect_ratio": aspect_ratio_for(size),
            "num_outputs": self.candidates,
            "output_format": "png",
            "seed": seed,
        }
        deadline = time.monotonic() + self.deadline_s
        # the API may still be called a little past the deadline: to cancel the prediction
        transport = BoundedRetryTransport(
            deadline + min(self.timeout_s, 5.0), self.max_retries, self.timeout_s
        )
        client = replicate.Client(
            api_token=self._token.get_secret_value(),
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 5.0)),
            transport=transport,
        )
        try:
            # "Prefer: wait" lets the API answer with the finished prediction when it is quick
            prediction = client.models.predictions.create(
                model=FLUX_MODELS[self.model],
                input=flux_input,
                wait=max(1, min(int(self.timeout_s), 60)),
            )
            self._wait(prediction, deadline)
            if prediction.status == "failed":
                raise ProviderError(f"Flux prediction failed: {prediction.error or 'no reason'}")
            if prediction.status == "canceled":
                raise ProviderError("Flux prediction was canceled")
            urls = prediction.output if isinstance(prediction.output, list) else [prediction.output]
            self.images = len(urls)
            self.cost_usd = len(urls) * PRICE_PER_IMAGE[self.model]
            image = self._best(urls, deadline)
        except ReplicateError as e:
            if e.status in (401, 403):
                raise ProviderError(
                    f"Replicate rejected the token ({e.status}): check REPLICATE_API_TOKEN"
                ) from None
            raise ProviderError(f"Replicate answered {e.status}: {e.detail or e.title}") from None
        except ModelError as e:
            raise ProviderError(f"Flux prediction failed: {e}") from None
        except (httpx.HTTPError, ValueError) as e:  # timeouts, malformed JSON, bad fields
            raise ProviderError(f"Replicate: {type(e).__name__}: {e}") from None
        finally:
            transport.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        fitted = ImageOps.fit(image.convert("RGB"), size, Image.Resampling.LANCZOS)
        fitted.save(out, format="PNG")
        return seed

    def _wait(self, prediction: Any, deadline: float) -> None:
        """Poll until the prediction ends; past the deadline, cancel it and give up."""
        while prediction.status not in ("succeeded", "failed", "canceled"):
            left = deadline - time.monotonic()
            if left <= 0:
                try:
                    prediction.cancel()
                except Exception as e:  # best effort: the error below is what matters
                    log.info("background: cancelling prediction %s failed: %s", prediction.id, e)
                raise ProviderError(
                    f"Flux prediction {prediction.id} did not finish within {self.deadline_s:g} s "
                    f"(status {prediction.status})"
                )
            time.sleep(min(self.poll_interval_s, left))
            prediction.reload()

    def _best(self, urls: list[Any], deadline: float) -> Image.Image:
        """Download and validate every candidate; the calmest valid one wins."""
        good: list[Image.Image] = []
        problems: list[str] = []
        timeout = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 5.0))
        # no Authorization header: output files live on a delivery host, not the API
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=3) as http:
            for i, url in enumerate(urls):
                if time.monotonic() > deadline:
                    problems.append(f"#{i}: out of time")
                    break
                try:
                    img = self._download(http, str(url))
                except (ProviderError, httpx.HTTPError, OSError, ValueError) as e:
                    problems.append(f"#{i}: {e}")
                    continue
                if np.asarray(img.convert("L").resize((64, 64))).std() < 3:
                    problems.append(f"#{i}: blank image (safety filter?)")
                    continue
                good.append(img)
        if problems:
            self.notes.append("; ".join(problems))
        if not good:
            raise ProviderError(
                f"Flux: none of the {len(urls)} output(s) is a usable image ({'; '.join(problems)})"
            )
        return min(good, key=_busyness)

    def _download(self, http: httpx.Client, url: str) -> Image.Image:
        if not url.startswith(("https://", "http://")):
            raise ProviderError(f"output is not an http(s) URL: {url[:80]!r}")
        with http.stream("GET", url) as r:
            r.raise_for_status()
            declared = int(r.headers.get("content-length") or 0)
            if declared > self.max_download_bytes:
                raise ProviderError(f"image of {declared} bytes is over the limit")
            data = bytearray()
            for chunk in r.iter_bytes():
                data += chunk
                if len(data) > self.max_download_bytes:
                    raise ProviderError(f"image is over {self.max_download_bytes} bytes")
        try:
            with Image.open(io.BytesIO(data)) as probe:
                if probe.width * probe.height > MAX_IMAGE_PIXELS:
                    raise ProviderError(f"image of {probe.width}x{probe.height} is too large")
                probe.verify()
            img = Image.open(io.BytesIO(data))
            img.load()
        except (OSError, SyntaxError, Image.DecompressionBombError) as e:
            raise ProviderError(
                f"not a valid image ({r.headers.get('content-type')}): {e}"
            ) from None
        return img
