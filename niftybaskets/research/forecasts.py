"""One grounded Gemini forecast per stock, checked, with its sources and every call recorded."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from pydantic import ValidationError

from niftybaskets.market import Clock, system_clock
from niftybaskets.research.gemini import Gemini, GeminiError, GeminiRejected, GeminiReply
from niftybaskets.research.prompts import Prompt, load_prompt
from niftybaskets.research.schemas import ForecastAnswer
from niftybaskets.research.sources import SourceResolver

log = logging.getLogger(__name__)

# What Gemini 2.x answers (400 INVALID_ARGUMENT) to a response schema together with Google Search:
# the Gemini API's wording, then Vertex AI's.
SCHEMA_WITH_SEARCH_REFUSED = ("tool use with a response mime type", "controlled generation is not supported")
DISAGREEMENT_POINTS = 10.0


@dataclass
class ForecastOutcome:
    symbol: str
    forecast: dict | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)


def prompt_params(stock: dict, horizon_days: int, as_of: str) -> dict:
    def shown(value: object) -> str:
        return "unknown" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    return {
        "TICKER": stock["symbol"],
        "COMPANY": stock["company"],
        "INDUSTRY": stock["industry"],
        "AS_OF": as_of,
        "LAST_PRICE": shown(stock["last_price"]),
        "PREVIOUS_CLOSE": shown(stock["previous_close"]),
        "DAY_LOW": shown(stock["day_low"]),
        "DAY_HIGH": shown(stock["day_high"]),
        "YEAR_LOW": shown(stock["year_low"]),
        "YEAR_HIGH": shown(stock["year_high"]),
        "VOLUME": shown(stock["volume"]),
        "CHANGE_30D": shown(stock["change_30d"]),
        "CHANGE_365D": shown(stock["change_365d"]),
        "HORIZON_DAYS": horizon_days,
    }


class Forecaster:
    def __init__(
        self,
        gemini: Gemini,
        resolver: SourceResolver,
        run_id: str,
        *,
        horizon_days: int = 7,
        prompt: Prompt | None = None,
        extract: Prompt | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.gemini = gemini
        self.resolver = resolver
        self.run_id = run_id
        self.horizon_days = horizon_days
        self.prompt = prompt or load_prompt("forecast")
        self.extract = extract or load_prompt("extract_forecast")
        self.clock = clock
        self._two_phase: set[str] = set()  # models that refused a schema together with search

    def _call(
        self, prompt: Prompt, text: str, phase: str, calls: list[dict], *, tools: bool, schema: bool
    ) -> GeminiReply:
        started = self.clock()
        record = {
            "run_id": self.run_id,
            "prompt_name": prompt.name,
            "prompt_hash": prompt.digest,
            "model": prompt.model,
            "params": json.dumps(
                {
                    "phase": phase,
                    **prompt.settings(),
                    "tools": prompt.tools if tools else [],
                    "response_schema": prompt.response_schema if schema else None,
                }
            ),
            "started_at": started.isoformat(),
        }
        try:
            reply = self.gemini.generate(prompt.model, text, prompt.config(tools=tools, schema=schema))
        except GeminiError as error:
            calls.append(
                {
                    **record,
                    "seconds": 0.0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "key_index": -1,
                    "status": f"error: {error}",
                    "response": "",
                }
            )
            raise
        calls.append(
            {
                **record,
                "seconds": reply.seconds,
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "key_index": reply.key_index,
                "status": "ok",
                "response": json.dumps(reply.raw),
            }
        )
        return reply

    def forecast(self, index_name: str, stock: dict) -> ForecastOutcome:
        outcome = ForecastOutcome(stock["symbol"])
        if not stock["last_price"] > 0:
            outcome.error = "no source gives a last price for it (suspended, or not traded on NSE?)"
            return outcome
        now = self.clock()
        params = prompt_params(stock, self.horizon_days, now.strftime("%d %b %Y %H:%M IST"))
        text = self.prompt.render(**params)
        try:
            reply = None
            if self.prompt.model not in self._two_phase:
                try:
                    reply = self._call(self.prompt, text, "grounded", outcome.calls, tools=True, schema=True)
                except GeminiRejected as error:
                    if not any(wording in str(error).lower() for wording in SCHEMA_WITH_SEARCH_REFUSED):
                        raise
                    log.info("%s cannot combine a schema with search; using two phases", self.prompt.model)
                    self._two_phase.add(self.prompt.model)
            if reply is None:
                research = self._call(self.prompt, text, "research", outcome.calls, tools=True, schema=False)
                extraction = self.extract.render(**params, RESEARCH=research.text)
                reply = self._call(self.extract, extraction, "extract", outcome.calls, tools=False, schema=True)
                grounded = research.sources
            else:
                grounded = reply.sources
        except GeminiError as error:
            outcome.error = str(error)
            return outcome
        try:
            answer = ForecastAnswer.model_validate_json(reply.text)
        except ValidationError as error:
            problem = error.errors()[0]
            where = ".".join(str(part) for part in problem["loc"]) or "answer"
            outcome.error = f"the model's answer does not fit the schema ({where}: {problem['msg']})"
            return outcome
        last = stock["last_price"]
        gain = (answer.target_price / last - 1) * 100
        if abs(gain - answer.expected_gain_percent) > DISAGREEMENT_POINTS:
            outcome.warnings.append(
                f"{stock['symbol']}: the model says {answer.expected_gain_percent:+.1f}% but its target "
                f"{answer.target_price:g} against our price {last:g} is {gain:+.1f}%; ours is kept"
            )
        outcome.forecast = {
            "run_id": self.run_id,
            "index_name": index_name,
            "symbol": stock["symbol"],
            "created_at": now.isoformat(),
            "model": self.prompt.model,
            "horizon_days": answer.horizon_days,
            "last_price": last,
            "target_price": answer.target_price,
            "gain_percent": round(gain, 4),
            "model_gain_percent": answer.expected_gain_percent,
            "reasoning": answer.reasoning,
            "sources": json.dumps(self.resolver.resolve(grounded)),
        }
        return outcome
