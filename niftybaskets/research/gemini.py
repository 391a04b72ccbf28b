"""Gemini through google-genai, over several API keys.

Calls are spread over the keys (the least busy key first). A 429 rests that key for the delay
the server asks for and moves the call to another key; when every key rests, the call waits for
the first to come back. 500/502/503/504 and network failures are retried after 1 s, 2 s, 4 s...,
about five minutes in all, and that deadline is shared by every call of the run: while no call
succeeds, all of them give up five minutes after the first failure (GeminiUnavailable), and at once
when Gemini has not answered a single call of the run and the last few calls failed the same way on
the network (unreachable). A key Gemini refuses (API_KEY_INVALID, PERMISSION_DENIED, suspended) is
not used again; with every key refused, calls raise GeminiKeysRefused. Keys are never logged: a key
is named by its number (#1, #2, ...).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx2
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from niftybaskets.config import GEMINI_KEY_PATTERN
from niftybaskets.errors import BAD_INPUT, NiftyError

log = logging.getLogger(__name__)

SERVER_TROUBLE = (500, 502, 503, 504)
DEFAULT_REST_SECONDS = 30.0
# A key refused again and again rests longer and longer (from 0.25 s, doubling) whatever delay
# Gemini asks for: a retry loop must never hammer the service.
FIRST_REST_SECONDS = 0.25
REFUSALS_BEFORE_BACKOFF = 3
# google-genai sends through httpx2 (a dependency), or through httpx where that is installed and
# chosen (GOOGLE_GENAI_HTTP_CLIENT); a body that is not JSON raises ValueError.
try:
    import httpx

    TRANSPORT_TROUBLE: tuple[type[Exception], ...] = (httpx2.TransportError, httpx.TransportError, ValueError)
except ImportError:
    TRANSPORT_TROUBLE = (httpx2.TransportError, ValueError)
# What Gemini answers for a revoked, suspended or mistyped key: that key is benched for the run.
KEY_REFUSED = ("api_key_invalid", "api key not valid", "api key expired", "has been suspended", "permission_denied")
# Network failures of the same kind in a row, with no call of the run answered, before Gemini is
# taken as unreachable: with one worker, after about 15 s of retries (1 + 2 + 4 + 8 s). With several
# workers the failures come at once, so the first must also be this many seconds old: a blip of the
# network as the run starts is not an unreachable Gemini.
UNREACHABLE_AFTER = 5
UNREACHABLE_SECONDS = 15.0
KEYS_HELP = "put working keys from aistudio.google.com/apikey in GEMINI_API_KEYS (comma-separated), then run again"


class GeminiError(NiftyError):
    """Gemini did not answer usefully; the message says why (never with a key)."""


class GeminiRejected(GeminiError):
    """Gemini refused the request itself (HTTP 4xx other than 429): retrying will not help."""


class GeminiKeysRefused(GeminiError):
    exit_code = BAD_INPUT  # keys to replace, not a failure of this run

    """Gemini refused every key of GEMINI_API_KEYS: a setting to fix, not a failure to retry."""


class GeminiUnavailable(GeminiError):
    """Gemini cannot be reached, or failed every call for the run's whole patience: calls of this
    run that have not started yet would fail the same way."""


@dataclass(frozen=True)
class GeminiReply:
    text: str
    sources: list[str]  # the pages Google Search returned (grounding metadata), in order
    input_tokens: int
    output_tokens: int
    key_index: int
    seconds: float
    model: str
    raw: dict


class KeyPool:
    """Hands out the least busy key that is not resting; counts calls per key."""

    def __init__(self, count: int, monotonic: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self.in_flight = [0] * count
        self.calls = [0] * count
        self.rate_limited = [0] * count
        self.refusals_in_a_row = [0] * count
        self.resting_until = [0.0] * count

    def acquire(self) -> int | None:
        """The least busy key, waiting while every usable key rests; None when every key is benched."""
        while True:
            with self._lock:
                now = self._monotonic()
                ready = [i for i, until in enumerate(self.resting_until) if until <= now]
                if ready:
                    index = min(ready, key=lambda i: (self.in_flight[i], self.calls[i], i))
                    self.in_flight[index] += 1
                    self.calls[index] += 1
                    return index
                wait = min(self.resting_until) - now
                if wait == float("inf"):
                    return None
            log.info("every Gemini key is resting; waiting %.1f s for the first to come back", wait)
            self._sleep(wait)

    def release(self, index: int) -> None:
        with self._lock:
            self.in_flight[index] -= 1

    def rest(self, index: int, seconds: float) -> float:
        """Rest the key for the server's delay; once it has been refused several rest periods in a
        row (or when the server asks for no delay), for a pause that doubles. Returns the rest."""
        with self._lock:
            self.rate_limited[index] += 1
            now = self._monotonic()
            if now >= self.resting_until[index]:  # refusals of calls already in flight count once
                self.refusals_in_a_row[index] += 1
            row = self.refusals_in_a_row[index]
            if seconds > 0 and row <= REFUSALS_BEFORE_BACKOFF:
                rest = seconds
            else:
                doublings = row - 1 if seconds <= 0 else row - 1 - REFUSALS_BEFORE_BACKOFF
                rest = max(seconds, FIRST_REST_SECONDS * 2**doublings)
            self.resting_until[index] = max(self.resting_until[index], now + rest)
            return rest

    def served(self, index: int) -> None:
        with self._lock:
            self.refusals_in_a_row[index] = 0

    def bench(self, index: int) -> None:
        """Never hand this key out again in this run."""
        with self._lock:
            self.resting_until[index] = float("inf")

    def usable(self) -> bool:
        with self._lock:
            return any(until != float("inf") for until in self.resting_until)


def retry_delay(error: genai_errors.APIError) -> float:
    """The server's RetryInfo delay ("30s"), or a default."""
    details = str(error.details)
    match = re.search(r"retryDelay['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)s", details)
    return float(match.group(1)) if match else DEFAULT_REST_SECONDS


def input_tokens(usage: types.GenerateContentResponseUsageMetadata | None) -> int:
    """The prompt and, for a grounded answer, the search results Gemini read (toolUsePromptTokenCount,
    reported apart from promptTokenCount): both are billed as input."""
    return ((usage.prompt_token_count or 0) + (usage.tool_use_prompt_token_count or 0)) if usage else 0


def output_tokens(usage: types.GenerateContentResponseUsageMetadata | None) -> int:
    """The answer and the model's thinking (thoughtsTokenCount, reported apart from
    candidatesTokenCount): thinking is billed as output."""
    return ((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0


def grounding_sources(response: types.GenerateContentResponse) -> list[str]:
    sources: list[str] = []
    for candidate in response.candidates or []:
        metadata = candidate.grounding_metadata
        for chunk in (metadata.grounding_chunks or []) if metadata else []:
            if chunk.web and chunk.web.uri and chunk.web.uri not in sources:
                sources.append(chunk.web.uri)
    return sources


class Gemini:
    def __init__(
        self,
        keys: list[str],
        base_url: str = "",
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        patience: float = 300.0,
        timeout_seconds: float = 300.0,
        unreachable_after: int = UNREACHABLE_AFTER,
    ) -> None:
        if not keys:
            raise GeminiError("no Gemini API key: set GEMINI_API_KEYS")
        options = types.HttpOptions(
            base_url=base_url or None,
            retry_options=types.HttpRetryOptions(attempts=1),  # the retries are ours, key by key
            timeout=int(timeout_seconds * 1000),
        )
        self._keys = list(keys)
        self._clients = [genai.Client(api_key=key, http_options=options) for key in keys]
        self.pool = KeyPool(len(keys), monotonic, sleep)
        self._monotonic = monotonic
        self._sleep = sleep
        self.patience = patience
        self.unreachable_after = unreachable_after
        self.refused: dict[int, str] = {}  # key index -> Gemini's reason, redacted
        # The run's health, shared by every call (several threads): answers so far, and the current
        # unbroken run of failures: when it began, its last trouble, how many in a row failed alike.
        self._health = threading.Lock()
        self.answered = 0
        self._failing_since: float | None = None
        self._trouble = ""
        self._alike = 0
        self._network_alike = False

    def redact(self, text: str) -> str:
        """Gemini's error texts can quote a key: name it by its number instead."""
        for number, key in enumerate(self._keys, start=1):
            text = text.replace(key, f"key #{number}")
        return GEMINI_KEY_PATTERN.sub("[a key]", text)

    def keys_refused(self) -> GeminiKeysRefused:
        """The error for every key refused, each key named by its number with Gemini's reason."""
        reasons = "; ".join(f"key #{index + 1}: {reason}" for index, reason in sorted(self.refused.items()))
        return GeminiKeysRefused(
            f"no usable Gemini key is left: Gemini refused every key of GEMINI_API_KEYS ({reasons}); {KEYS_HELP}"
        )

    def _succeeded(self) -> None:
        with self._health:
            self.answered += 1
            self._failing_since, self._trouble, self._alike = None, "", 0

    def _failed(self, trouble: str, network: bool) -> None:
        with self._health:
            if self._failing_since is None:
                self._failing_since = self._monotonic()
            self._alike = self._alike + 1 if trouble == self._trouble else 1
            self._trouble, self._network_alike = trouble, network

    def _shared_time_left(self) -> float:
        """Seconds until the run's shared deadline, while calls are failing."""
        with self._health:
            if self._failing_since is None:
                return self.patience
            return self.patience - (self._monotonic() - self._failing_since)

    def halted(self) -> GeminiError | None:
        """Why no new call of this run should start, or None: every key refused, Gemini unreachable
        (no call of the run answered and the last few failed alike on the network), or failing
        calls for the whole patience. Any answer clears the last two."""
        if not self.pool.usable():
            return self.keys_refused()
        with self._health:
            if self._failing_since is None:
                return None
            failing = self._monotonic() - self._failing_since
            if (
                not self.answered
                and self._network_alike
                and self._alike >= self.unreachable_after
                and failing >= UNREACHABLE_SECONDS
            ):
                return GeminiUnavailable(
                    f"Gemini cannot be reached: the last {self._alike} calls failed alike ({self._trouble}) and "
                    "none of this run's calls was answered; check the network (and GEMINI_BASE_URL if set), "
                    "then run again"
                )
            if failing >= self.patience:
                return GeminiUnavailable(
                    f"Gemini kept failing ({self._trouble}) for {failing:.0f} s, every call of this run; "
                    "try again later"
                )
        return None

    def generate(self, model: str, contents: str, config: types.GenerateContentConfig) -> GeminiReply:
        delay, waited, began = 1.0, 0.0, self._monotonic()
        while True:
            if not self.pool.usable():
                raise self.keys_refused()
            if self._monotonic() - began > 3 * self.patience:
                raise GeminiError(
                    f"no Gemini key could serve the call for {self._monotonic() - began:.0f} s "
                    "(rate limits, or the quota is used up); try again later or add keys"
                )
            index = self.pool.acquire()
            if index is None:
                raise self.keys_refused()
            started = self._monotonic()
            try:
                response = self._clients[index].models.generate_content(model=model, contents=contents, config=config)
                usage = response.usage_metadata
                text = response.text or ""
            except genai_errors.APIError as error:
                message = self.redact(f"{error.code} {error.status}: {error.message}")
                if error.code == 429:
                    rest = self.pool.rest(index, retry_delay(error))
                    log.info("Gemini key #%d is rate-limited; it rests %.1f s", index + 1, rest)
                    continue
                if error.code in (401, 403) or any(sign in message.lower() for sign in KEY_REFUSED):
                    log.warning("Gemini refused key #%d (%s); it is not used again in this run", index + 1, message)
                    self.refused[index] = message
                    self.pool.bench(index)
                    continue
                if error.code not in SERVER_TROUBLE:
                    self._succeeded()  # Gemini answered: the service is up, the request is at fault
                    raise GeminiRejected(f"Gemini refused the request: {message}") from None
                trouble, network = f"{error.code} {error.status}", False
            except TRANSPORT_TROUBLE as error:
                trouble, network = type(error).__name__, not isinstance(error, ValueError)
            else:
                self.pool.served(index)
                self._succeeded()
                return GeminiReply(
                    text=text,
                    sources=grounding_sources(response),
                    input_tokens=input_tokens(usage),
                    output_tokens=output_tokens(usage),
                    key_index=index,
                    seconds=self._monotonic() - started,
                    model=model,
                    raw=response.model_dump(mode="json", exclude_none=True),
                )
            finally:
                self.pool.release(index)
            self._failed(trouble, network)
            halted = self.halted()
            if isinstance(halted, GeminiUnavailable):  # this run's calls share one deadline
                raise halted
            if waited >= self.patience:
                raise GeminiError(f"Gemini kept failing ({trouble}) for {waited:.0f} s; try again later")
            pause = max(0.0, min(delay, self.patience - waited, self._shared_time_left()))
            log.info("Gemini answered %s; trying again in %.0f s", trouble, pause)
            self._sleep(pause)
            waited += pause
            delay *= 2
