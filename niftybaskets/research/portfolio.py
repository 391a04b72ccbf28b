"""From forecasts to a basket: the top N by average expected gain, then Gemini picks K with weights."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable

from pydantic import ValidationError

from niftybaskets.baskets import Candidate, normalise_ticker
from niftybaskets.errors import NiftyError
from niftybaskets.research.gemini import Gemini, GeminiError, GeminiKeysRefused
from niftybaskets.research.prompts import Prompt
from niftybaskets.research.schemas import BasketChoice


class PortfolioError(NiftyError):
    """No basket could be made; the message says why and what to do."""


def candidates(forecasts: list[dict], industries: dict[str, str], n: int) -> list[Candidate]:
    """The n stocks with the best average expected gain, over forecasts given newest first."""
    by_symbol: dict[str, list[dict]] = {}
    for forecast in forecasts:
        by_symbol.setdefault(forecast["symbol"], []).append(forecast)
    ranked = []
    for symbol, rows in by_symbol.items():
        targets = [row["target_price"] for row in rows]
        sources = list(dict.fromkeys(url for row in rows for url in json.loads(row["sources"])))
        ranked.append(
            Candidate(
                symbol=symbol,
                industry=industries.get(symbol, "unknown"),
                gain=statistics.fmean(row["gain_percent"] for row in rows),
                passes=len(rows),
                spread=(max(targets) - min(targets)) / statistics.fmean(targets) * 100,
                targets=targets,
                last_price=rows[0]["last_price"],
                horizon_days=rows[0]["horizon_days"],
                reasoning=rows[0]["reasoning"],
                sources=sources,
            )
        )
    ranked.sort(key=lambda c: (-c.gain, c.symbol))
    return ranked[:n]


def validate_choice(choice: BasketChoice, pool: list[Candidate], k: int) -> dict[str, float]:
    """Exactly k distinct tickers from the candidates; weights rescaled to sum to 1."""
    allowed = {c.symbol for c in pool}
    weights: dict[str, float] = {}
    for pick in choice.stocks:
        symbol = normalise_ticker(pick.ticker)
        if symbol not in allowed:
            raise ValueError(f"{pick.ticker} is not one of the candidates")
        if symbol in weights:
            raise ValueError(f"{symbol} is chosen twice")
        weights[symbol] = pick.weight
    if len(weights) != k:
        raise ValueError(f"{len(weights)} stocks were chosen; exactly {k} are needed")
    total = sum(weights.values())
    return {symbol: weight / total for symbol, weight in weights.items()}


def choose(
    gemini: Gemini,
    prompt: Prompt,
    index: str,
    pool: list[Candidate],
    k: int,
    record: Callable[[dict], None],
) -> tuple[dict[str, float], str]:
    """Ask Gemini for k stocks with weights; one retry with the problem fed back."""
    lines = "\n".join(
        f"{c.symbol} | {c.industry} | {c.gain:+.2f} | {c.spread:.1f} | {' '.join(c.reasoning.split())}" for c in pool
    )
    feedback = ""
    for attempt in (1, 2):
        text = prompt.render(
            INDEX=index, HORIZON_DAYS=pool[0].horizon_days, N=len(pool), K=k, CANDIDATES=lines, FEEDBACK=feedback
        )
        try:
            reply = gemini.generate(prompt.model, text, prompt.config())
        except GeminiKeysRefused:
            raise  # a setting to fix (exit 2), not a failure of this basket
        except GeminiError as error:
            raise PortfolioError(f"Gemini did not choose a basket: {error}") from None
        record(
            {
                "prompt_name": prompt.name,
                "prompt_hash": prompt.digest,
                "model": prompt.model,
                "params": json.dumps({"attempt": attempt, "k": k, "n": len(pool)}),
                "seconds": reply.seconds,
                "input_tokens": reply.input_tokens,
                "output_tokens": reply.output_tokens,
                "key_index": reply.key_index,
                "status": "ok",
                "response": json.dumps(reply.raw),
            }
        )
        try:
            choice = BasketChoice.model_validate_json(reply.text)
            return validate_choice(choice, pool, k), choice.reason_summary
        except (ValidationError, ValueError) as error:
            problem = error.errors()[0]["msg"] if isinstance(error, ValidationError) else str(error)
            feedback = f"Your previous answer was refused: {problem}. Answer again, following the rules exactly."
    raise PortfolioError(f"Gemini's basket was invalid twice ({problem}); nothing was published")
