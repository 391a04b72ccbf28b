"""A fake of the Gemini API's generateContent, in its REST shape, for the real google-genai SDK.

Tests script it: what each call answers (`respond`), errors queued per key, a per-key request limit
per minute answered with 429 and a RetryInfo delay, latency, and Gemini 2.x's refusal of a response
schema together with the google_search tool. Every call is recorded.

Its answers follow real ones recorded by other projects (tests/fixtures/recorded/gemini/, see
PROVENANCE.md): `recorded(name)` serves such a body as it is. A grounded answer carries
groundingMetadata (groundingChunks with web.uri and web.title, groundingSupports, webSearchQueries)
and reports the search results it read as toolUsePromptTokenCount apart from promptTokenCount; an
ungrounded one has neither. Errors come in Google's envelope {"error": {code, message, status,
details?}}: a 429 as the recorded RESOURCE_EXHAUSTED body (QuotaFailure, Help, RetryInfo), a 503 as
the recorded "The model is overloaded" body (no details).
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

RECORDED = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "gemini"
STATUS_NAMES = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
TOOL_USE_TOKENS = 40  # what a grounded fake answer reports as toolUsePromptTokenCount
_response_ids = itertools.count(1)


@cache
def _load(name: str) -> dict:
    text = (RECORDED / name).read_text(encoding="utf-8")
    if name.endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)["interactions"][0]["response"]["parsed_body"]  # a pydantic-ai cassette


def recorded(name: str) -> dict:
    """The body of a recorded answer (a fresh copy): a JSON file's content, or a cassette's first
    response."""
    return copy.deepcopy(_load(name))


def error(code: int, message: str = "", retry_delay: float | None = None) -> JSONResponse:
    """Google's error envelope. A 429 is the recorded RESOURCE_EXHAUSTED body with its RetryInfo
    delay set to `retry_delay` (dropped when None); a 503 is the recorded UNAVAILABLE body. Other
    statuses have no recording behind them: the same envelope with the message given and no
    details, as the recorded 503 has none."""
    if code == 429:
        body = recorded("roo-code-issue-3883_429_resource_exhausted.json")
        details = body["error"]["details"]
        if retry_delay is None:
            body["error"]["details"] = [d for d in details if not d["@type"].endswith("RetryInfo")]
        for detail in body["error"]["details"]:
            if detail["@type"].endswith("RetryInfo"):
                detail["retryDelay"] = f"{retry_delay:g}s"
        if message:
            body["error"]["message"] = message
    elif code == 503 and not message:
        body = recorded("eva-agent-issue-50_503_unavailable.json")
    else:
        body = {
            "error": {"code": code, "message": message or "Injected error", "status": STATUS_NAMES.get(code, "UNKNOWN")}
        }
    return JSONResponse(body, status_code=code)


def answer(
    text: str,
    sources: list[str] = (),
    model: str = "",
    tokens: tuple[int, int] = (120, 80),
    tool_use_tokens: int | None = None,
) -> dict:
    """An answer shaped like the recorded ones; with `sources`, a grounded one (grounding metadata,
    and `tool_use_tokens` reported as toolUsePromptTokenCount, TOOL_USE_TOKENS by default)."""
    candidate: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": "STOP"}
    usage: dict = {
        "promptTokenCount": tokens[0],
        "candidatesTokenCount": tokens[1],
        "totalTokenCount": sum(tokens),
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": tokens[0]}],
    }
    if sources:
        chunks = [{"web": {"uri": uri, "title": uri.split("/")[2] if "//" in uri else uri}} for uri in sources]
        candidate["groundingMetadata"] = {
            "groundingChunks": chunks,
            "groundingSupports": [
                {
                    "groundingChunkIndices": list(range(len(chunks))),
                    "segment": {"endIndex": len(text), "startIndex": 0, "text": text},
                }
            ],
            "webSearchQueries": ["query"],
        }
        tool_use = TOOL_USE_TOKENS if tool_use_tokens is None else tool_use_tokens
        usage["toolUsePromptTokenCount"] = tool_use
        usage["toolUsePromptTokensDetails"] = [{"modality": "TEXT", "tokenCount": tool_use}]
        usage["totalTokenCount"] += tool_use
    candidate["index"] = 0
    body = {"candidates": [candidate], "usageMetadata": usage}
    if model:
        body["modelVersion"] = model
    return body


@dataclass
class Call:
    key: str
    model: str
    body: dict
    status: int = 200

    @property
    def prompt(self) -> str:
        return "".join(part.get("text", "") for content in self.body["contents"] for part in content["parts"])

    @property
    def grounded(self) -> bool:
        return any("googleSearch" in tool for tool in self.body.get("tools", []))

    @property
    def schema(self) -> dict | None:
        return self.generation_config.get("responseSchema")

    @property
    def generation_config(self) -> dict:
        return self.body.get("generationConfig", {})

    @property
    def thinking(self) -> dict:
        """generationConfig.thinkingConfig with camelCase keys. google-genai 3.3 sends this object's
        keys as the proto names (thinking_level, thinking_budget); the API reads both spellings."""
        config = self.generation_config.get("thinkingConfig", {})
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): value for key, value in config.items()}


@dataclass
class FakeGemini:
    """`respond(call)` returns the JSON body of an answer (see `answer`), or a JSONResponse error."""

    respond: Callable[[Call], dict | JSONResponse]
    latency: float = 0.0
    per_key_per_minute: int = 0  # 0: no limit
    window_seconds: float = 60.0  # the limit's window: a minute, or shorter for a fast benchmark
    retry_delay: float | None = 1.0  # None: until the key's window has room again, as Gemini says
    calls: list[Call] = field(default_factory=list)
    queued_errors: dict[str, deque[int]] = field(default_factory=dict)  # key -> HTTP statuses to answer next
    monotonic: Callable[[], float] = time.monotonic
    # Gemini 2.x's refusal of a schema with Google Search: the Gemini API's wording by default.
    schema_search_refusal: str = "Tool use with a response mime type: 'application/json' is unsupported"

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: dict[str, deque[float]] = {}
        self.app = self._build()

    def fail(self, key: str, *statuses: int) -> None:
        self.queued_errors.setdefault(key, deque()).extend(statuses)

    def calls_per_key(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.calls:
            if call.status == 200:
                counts[call.key] = counts.get(call.key, 0) + 1
        return counts

    def _limited(self, key: str) -> float | None:
        """None when the call may go; else the seconds until the key's window has room."""
        if not self.per_key_per_minute:
            return None
        with self._lock:
            now = self.monotonic()
            recent = self._recent.setdefault(key, deque())
            while recent and recent[0] <= now - self.window_seconds:
                recent.popleft()
            if len(recent) >= self.per_key_per_minute:
                return recent[0] + self.window_seconds - now
            recent.append(now)
            return None

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{version}/models/{model_action}")
        async def generate(request: Request, version: str, model_action: str) -> JSONResponse:
            model, _, action = model_action.partition(":")
            key = request.headers.get("x-goog-api-key", "")
            call = Call(key, model, json.loads(await request.body()))
            self.calls.append(call)
            if action != "generateContent" or not key:
                call.status = 400
                return error(400, "API key not valid. Please pass a valid API key.")
            queued = self.queued_errors.get(key)
            if queued:
                call.status = queued.popleft()
                delay = 1.0 if self.retry_delay is None else self.retry_delay
                return error(call.status, retry_delay=delay if call.status == 429 else None)
            wait = self._limited(key)
            if wait is not None:
                call.status = 429
                delay = self.retry_delay if self.retry_delay is not None else round(wait + 0.01, 2)
                return error(429, retry_delay=delay)
            if self.latency:  # a refused call comes back at once; a served one takes the model's time
                await asyncio.sleep(self.latency)
            if model.startswith("gemini-2") and call.grounded and call.schema:
                call.status = 400
                return error(400, self.schema_search_refusal)
            result = self.respond(call)
            if isinstance(result, JSONResponse):
                call.status = result.status_code
                return result
            result.setdefault("modelVersion", model)  # as every recorded answer names it
            result.setdefault("responseId", f"fake-{next(_response_ids)}")
            return JSONResponse(result)

        return app
