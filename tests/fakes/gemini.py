"""A fake of the Gemini API's generateContent, in its REST shape, for the real google-genai SDK.

Tests script it: what each call answers (`respond`), errors queued per key, a per-key request limit
per minute answered with 429 and a RetryInfo delay, latency, and Gemini 2.x's refusal of a response
schema together with the google_search tool. Every call is recorded.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

STATUS_NAMES = {400: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def error(code: int, message: str, retry_delay: float | None = None) -> JSONResponse:
    details = []
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay:g}s"})
    body = {
        "error": {"code": code, "message": message, "status": STATUS_NAMES.get(code, "UNKNOWN"), "details": details}
    }
    return JSONResponse(body, status_code=code)


def answer(text: str, sources: list[str] = (), model: str = "", tokens: tuple[int, int] = (120, 80)) -> dict:
    chunks = [{"web": {"uri": uri, "title": uri.split("/")[2] if "//" in uri else uri}} for uri in sources]
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": "STOP",
                "groundingMetadata": {"webSearchQueries": ["query"], "groundingChunks": chunks},
            }
        ],
        "usageMetadata": {
            "promptTokenCount": tokens[0],
            "candidatesTokenCount": tokens[1],
            "totalTokenCount": sum(tokens),
        },
        "modelVersion": model,
    }


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
        return self.body.get("generationConfig", {}).get("responseSchema")


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
                return error(call.status, "Injected error", delay if call.status == 429 else None)
            wait = self._limited(key)
            if wait is not None:
                call.status = 429
                delay = self.retry_delay if self.retry_delay is not None else round(wait + 0.01, 2)
                return error(429, "Resource has been exhausted (e.g. check quota).", delay)
            if self.latency:  # a refused call comes back at once; a served one takes the model's time
                await asyncio.sleep(self.latency)
            if model.startswith("gemini-2") and call.grounded and call.schema:
                call.status = 400
                return error(400, self.schema_search_refusal)
            result = self.respond(call)
            if isinstance(result, JSONResponse):
                call.status = result.status_code
                return result
            return JSONResponse(result)

        return app
