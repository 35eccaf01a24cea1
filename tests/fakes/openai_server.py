"""A fake OpenAI Chat Completions API: ``POST /v1/chat/completions``.

Answers the way the real API does for ``client.chat.completions.parse``: a
``chat.completion`` object whose message content is the JSON text of the structured
output, with ``usage`` token counts; errors are ``{"error": {...}}`` with the real status
codes and headers (``retry-after`` on 429). Point the SDK at ``fake.base_url``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from fakes._http import Fake, JsonHandler

DEFAULT_KEY = "sk-fake-loopback-0123456789abcdef"

# A plausible structured script (the fields the NovaAvatar script schema asks for).
DEFAULT_SCRIPT: dict[str, Any] = {
    "title": "A quiet day in the newsroom",
    "script": (
        "Good evening. Here is a short update. The story is still developing and we will "
        "share more when we know more. Follow for more updates."
    ),
    "call_to_action": "Follow for more updates.",
    "scene_description": "A calm modern news studio with soft blue light; no text.",
    "keywords": ["news", "update"],
}

# A plausible structured conversation (NovaAvatar's dialogue schema: turns of host/guest).
DEFAULT_DIALOGUE: dict[str, Any] = {
    "title": "A quiet day in the newsroom",
    "turns": [
        {
            "speaker": "host",
            "text": "Good evening. Our guest is here with an update. What happened?",
        },
        {"speaker": "guest", "text": "The story is still developing."},
        {"speaker": "host", "text": "What else do we know?"},
        {"speaker": "guest", "text": "We will share more when we know more."},
        {"speaker": "host", "text": "Thank you. Follow for more updates."},
    ],
    "call_to_action": "Follow for more updates.",
    "scene_description": "A bright talk-show studio with two seats; no text.",
    "keywords": ["news", "update"],
}


# A plausible structured explainer (NovaAvatar's scenes schema: titled scenes with backdrops).
DEFAULT_SCENES: dict[str, Any] = {
    "title": "A quiet day in the newsroom, explained",
    "scenes": [
        {
            "title": "The story",
            "text": "Good evening. Here is a short explainer about a developing story.",
            "scene_description": "A calm modern news studio with soft blue light.",
        },
        {
            "title": "What we know",
            "text": "The story is still developing and details are few.",
            "scene_description": "An empty newsroom at dusk with warm desk lamps.",
        },
        {
            "title": "Wrap-up",
            "text": "We will share more when we know more. Follow for more updates.",
            "scene_description": "A city skyline at night under a clear sky.",
        },
    ],
    "call_to_action": "Follow for more updates.",
    "keywords": ["news", "update"],
}

# DEFAULT_SCRIPT as a model writes it when the prompt asks for another language.
TRANSLATED_SCRIPTS: dict[str, dict[str, Any]] = {
    "es": {
        "title": "Un día tranquilo en la redacción",
        "script": "Buenas noches. Aquí va una breve actualización. La noticia sigue en desarrollo "
        "y compartiremos más cuando sepamos más. Síguenos para más novedades.",
        "call_to_action": "Síguenos para más novedades.",
        "scene_description": "A calm modern news studio with soft blue light; no text.",
        "keywords": ["noticias", "actualización"],
    },
    "ar": {
        "title": "يوم هادئ في غرفة الأخبار",
        "script": "مساء الخير. إليكم تحديثا قصيرا. ما زال الخبر يتطور وسنشارككم المزيد عندما "
        "نعرف المزيد. تابعونا لمزيد من المستجدات.",
        "call_to_action": "تابعونا لمزيد من المستجدات.",
        "scene_description": "A calm modern news studio with soft blue light; no text.",
        "keywords": ["أخبار", "تحديث"],
    },
    "zh": {
        "title": "新闻编辑室平静的一天",
        "script": (
            "晚上好。这里是一则简短的更新。事件仍在发展中，"
            "我们了解更多后会继续报道。关注我们，获取后续报道。"
        ),
        "call_to_action": "关注我们，获取后续报道。",
        "scene_description": "A calm modern news studio with soft blue light; no text.",
        "keywords": ["新闻", "更新"],
    },
}


@dataclass
class Step:
    """One scripted answer; ``body`` is a dict (JSON) or raw bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate: bool = False


def error_body(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


_ERRORS = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", None),
}


def completion(
    content: str | None,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    finish_reason: str = "stop",
    refusal: str | None = None,
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-fake{int(time.time() * 1000)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": refusal,
                    "annotations": [],
                },
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fakeloopback",
    }


class _Handler(JsonHandler):
    def do_POST(self) -> None:
        fake: FakeOpenAI = self.fake
        body = self.read_json()
        if self.path.rstrip("/") != "/v1/chat/completions":
            self.send_json(
                404, error_body(f"Unknown path {self.path}", "invalid_request_error", None)
            )
            return
        if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
            self.send_json(401, error_body("Incorrect API key provided.", *_ERRORS[401]))
            return
        if fake.echo_credentials:  # a careless upstream quoting the request in its error
            auth = self.headers.get("Authorization")
            self.send_json(500, error_body(f"upstream failed for {auth}", *_ERRORS[500]))
            return
        with fake.lock:
            fake.requests.append(body or {})
            step = fake.steps.pop(0) if fake.steps else None
        step = step or Step(body=fake.script_for(body or {}))
        if step.delay_s:
            time.sleep(step.delay_s)
        structured = isinstance(step.body, dict) and any(
            k in step.body for k in ("script", "turns", "scenes")
        )
        if structured and step.status == 200:
            step.body = fake.completion_for(body or {}, json.dumps(step.body))
        raw = step.body if isinstance(step.body, bytes) else json.dumps(step.body).encode()
        declared = len(raw) * 2 if step.truncate else None
        self.send_bytes(step.status, raw, "application/json", step.headers, declared)


class FakeOpenAI(Fake):
    """``with FakeOpenAI() as fake:`` then
    ``OpenAI(base_url=fake.base_url, api_key=fake.api_key)``.
    """

    handler = _Handler

    def __init__(self, api_key: str = DEFAULT_KEY, script: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.api_key = api_key
        self.script = dict(script or DEFAULT_SCRIPT)
        self.dialogue = dict(DEFAULT_DIALOGUE)  # the answer to a conversation request
        # the answer to a script request in another language ("language code es" in the prompt)
        self.translations: dict[str, dict[str, Any]] = dict(TRANSLATED_SCRIPTS)
        self.scenes = dict(DEFAULT_SCENES)  # the answer to an explainer request
        # the answer to a script request that asks for an opening ("hook question" in the
        # prompt), as a model following the instruction would give
        self.hooks: dict[str, dict[str, Any]] = {}
        self.steps: list[Step] = []
        self.requests: list[dict[str, Any]] = []
        self.echo_credentials = False  # answer 500 quoting the Authorization header

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    # -- what a request gets when nothing is scripted ------------------------------------
    def script_for(self, request: dict[str, Any]) -> dict[str, Any]:
        """The structured answer; override (or set ``script`` / ``dialogue``) to tailor it to
        the request. A request for the conversation schema gets ``dialogue``, one for the
        explainer schema ``scenes``."""
        fmt = request.get("response_format") or {}
        if (fmt.get("json_schema") or {}).get("name") == "DialogueDraft":
            return self.dialogue
        if (fmt.get("json_schema") or {}).get("name") == "ExplainerDraft":
            return self.scenes
        system = " ".join(
            str(m.get("content", ""))
            for m in request.get("messages", [])
            if m.get("role") == "system"
        )
        hook = re.search(r"\(hook ([a-z]+)\)", system)
        if hook and hook.group(1) in self.hooks:
            return self.hooks[hook.group(1)]
        asked = re.search(r"language code ([a-z]{2,3})\b", system)
        if asked and asked.group(1) in self.translations:  # a script in the language asked for
            return self.translations[asked.group(1)]
        return self.script

    def completion_for(
        self, request: dict[str, Any], content: str, finish_reason: str = "stop"
    ) -> dict[str, Any]:
        prompt = sum(len(str(m.get("content", ""))) for m in request.get("messages", []))
        return completion(
            content,
            model=str(request.get("model", "gpt-fake")),
            prompt_tokens=max(prompt // 4, 1),
            completion_tokens=max(len(content) // 4, 1),
            finish_reason=finish_reason,
        )

    # -- scripting failures and answers --------------------------------------------------
    def reply(self, script: dict[str, Any]) -> None:
        """Queue one successful structured answer."""
        self.steps.append(Step(body=dict(script)))

    def reply_content(self, content: str | None, finish_reason: str = "stop", **kw: Any) -> None:
        """Queue a completion with raw message content (malformed JSON, a cut-off answer...)."""
        body = completion(content, "gpt-fake", 100, 50, finish_reason=finish_reason, **kw)
        self.steps.append(Step(body=body))

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        type_, code = _ERRORS.get(status, ("server_error", None))
        headers = {"retry-after": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self.steps.append(Step(status, error_body(f"fake {status}", type_, code), headers))

    def slow(self, seconds: float, times: int = 1) -> None:
        for _ in range(times):
            self.steps.append(Step(body=dict(self.script), delay_s=seconds))

    def raw(self, status: int, body: bytes, truncate: bool = False) -> None:
        self.steps.append(Step(status, body, truncate=truncate))
