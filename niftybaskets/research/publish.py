"""What `scripts/generate_portfolio.py` does: forecasts -> candidates -> Gemini's pick -> the site."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from niftybaskets.market import Clock, system_clock
from niftybaskets.research.analyze import new_run_id
from niftybaskets.research.gemini import Gemini
from niftybaskets.research.portfolio import PortfolioError, candidates, choose
from niftybaskets.research.prompts import load_prompt
from niftybaskets.site.baskets import Published, write_basket
from niftybaskets.site.index_page import update_index
from niftybaskets.store import Store


def publish_basket(
    store: Store,
    gemini: Gemini,
    docs: Path,
    index: str,
    n: int,
    k: int,
    since_days: float,
    clock: Clock = system_clock,
    model: str = "",
    horizon_days: int = 7,
) -> Published:
    since = clock() - timedelta(days=since_days)
    forecasts = store.forecasts(index, since.isoformat(), horizon_days=horizon_days)
    if not forecasts:
        raise PortfolioError(
            f"no {horizon_days}-day forecasts for {index} in the last {since_days:g} days: run "
            f'python3 scripts/analyze_stocks.py -i "{index}" first'
        )
    industries = {row["symbol"]: row["industry"] for row in store.constituents(index)}
    pool = candidates(forecasts, industries, n)
    if len(pool) < k:
        raise PortfolioError(f"only {len(pool)} stocks have forecasts; a basket of {k} needs at least {k}")
    run_id = new_run_id(clock)

    def record(call: dict) -> None:
        store.record_llm_call({**call, "run_id": run_id, "started_at": clock().isoformat()})

    weights, reason = choose(gemini, load_prompt("basket", model), index, pool, k, record)
    try:
        published = write_basket(docs, index, clock(), pool, weights, reason)
    except FileExistsError as error:
        raise PortfolioError(f"{error}; try again in a minute") from None
    update_index(docs)
    return published
