"""Make a basket from the recent forecasts: the top N stocks by average expected gain, of which
Gemini picks K with weights; publish it in docs/baskets and link it from docs/index.md."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from niftybaskets.baskets import Published
from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import DEFAULT_INDEX, load_settings
from niftybaskets.errors import DONE
from niftybaskets.market import Clock, system_clock
from niftybaskets.research.analyze import new_run_id
from niftybaskets.research.gemini import Gemini
from niftybaskets.research.portfolio import PortfolioError, candidates, choose
from niftybaskets.research.prompts import load_prompt
from niftybaskets.site.baskets import write_basket
from niftybaskets.site.index_page import update_index
from niftybaskets.store import ResearchStore

ENVIRONMENT = ["GEMINI_API_KEYS", "GEMINI_MODEL", "GEMINI_BASE_URL", "DATA_DIR", "DOCS_DIR"]
EXAMPLES = [
    f'python3 scripts/generate_portfolio.py -i "{DEFAULT_INDEX}" -n 50 -k 10',
    'python3 scripts/generate_portfolio.py -i "NIFTY 50" --since-days 2',
]


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __doc__,
        environment=ENVIRONMENT,
        examples=EXAMPLES,
        note="The forecasts come from analyze_stocks.py, run on the same index first.",
    )
    parser.add_argument("-i", "--index", default=DEFAULT_INDEX, help="NSE index name (default: %(default)s)")
    parser.add_argument(
        "-n", "--top-n", type=int, default=20, help="candidates: the N best forecasts (default: %(default)s)"
    )
    parser.add_argument("-k", "--basket-k", type=int, default=5, help="stocks in the basket (default: %(default)s)")
    parser.add_argument(
        "-d", "--since-days", type=float, default=7, help="use forecasts of the last D days (default: %(default)s)"
    )
    parser.add_argument("--horizon-days", type=int, default=7, help="use forecasts of this horizon (default: 7)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()

    def generate_portfolio(args: argparse.Namespace) -> int:
        if not 1 <= args.basket_k <= args.top_n <= 500:
            parser.error("need 1 <= K <= N <= 500")
        if not args.since_days > 0:
            parser.error("--since-days must be above 0")
        settings = load_settings()
        settings.require("gemini_keys")
        store = ResearchStore(settings.store_path)
        try:
            published = publish_basket(
                store,
                Gemini(settings.gemini_keys, settings.gemini_base_url),
                settings.docs_dir,
                args.index,
                args.top_n,
                args.basket_k,
                args.since_days,
                model=settings.gemini_model,
                horizon_days=args.horizon_days,
            )
        finally:
            store.close()
        print(f"Published {settings.docs_dir / 'baskets' / published.stem}.json and .md; docs/index.md updated.")
        return DONE

    return run(parser, argv, generate_portfolio)


def publish_basket(
    store: ResearchStore,
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
    """Forecasts -> the N best candidates -> Gemini's pick of K -> docs/baskets and docs/index.md."""
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
