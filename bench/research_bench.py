#!/usr/bin/env python3
"""Research throughput over several Gemini keys; prints one JSON line.

A fake Gemini (spoken to by the real google-genai SDK) answers after a latency L and allows each key
R requests per window (a minute in real life; a short window here, so the run is quick); K keys,
W workers, a fake NSE listing S stocks. The reference is the ideal rate min(W / L, K x R / window):
throughput_ratio is the measured stocks per second over it (target >= 0.9), stocks_lost counts
stocks without a forecast at the end (target 0), key_spread is the most over the fewest successful
calls per key (target <= 1.2).
"""

import argparse
import json
import re
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from rich.console import Console

from niftybaskets.marketdata.chain import MarketData
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.research.analyze import AnalyzeOptions, analyze
from niftybaskets.research.forecasts import Forecaster
from niftybaskets.research.gemini import Gemini
from niftybaskets.research.sources import SourceResolver
from niftybaskets.store import ResearchStore
from niftybaskets.webserver import BackgroundServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fakes.gemini import FakeGemini, answer
from tests.fakes.nse import FakeNse, index_row

REASONING = "Steady results and a stable sector outlook; analysts see modest upside. " * 6


def respond(call) -> dict:
    last = float(re.search(r"last price ([\d.]+)", call.prompt).group(1))
    body = {
        "horizon_days": 7,
        "target_price": round(last * 1.03, 2),
        "expected_gain_percent": 3.0,
        "reasoning": REASONING,
    }
    return answer(json.dumps(body))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stocks", type=int, default=250)
    parser.add_argument("--keys", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per Gemini answer")
    parser.add_argument("--per-window", type=int, default=10, help="requests each key may make per window")
    parser.add_argument("--window", type=float, default=1.0, help="the rate window in seconds")
    parser.add_argument("--quick", action="store_true", help="a short smoke run for CI")
    args = parser.parse_args()
    stocks = 60 if args.quick else args.stocks
    index = "NIFTY BENCH"
    nse = FakeNse()
    nse.indices[index] = [index_row(f"S{n:03d}", 50.0 + n) for n in range(stocks)]
    gemini_fake = FakeGemini(
        respond, latency=args.latency, per_key_per_minute=args.per_window, window_seconds=args.window, retry_delay=None
    )
    keys = [f"bench-key-{n}" for n in range(args.keys)]
    with (
        BackgroundServer(nse.app) as nse_server,
        BackgroundServer(gemini_fake.app) as gemini_server,
        TemporaryDirectory() as folder,
    ):
        store = ResearchStore(Path(folder) / "bench.sqlite")
        gemini = Gemini(keys, gemini_server.url)
        forecaster = Forecaster(gemini, SourceResolver(), "bench")
        options = AnalyzeOptions(index=index, workers=args.workers)
        started = time.perf_counter()
        summary = analyze(
            store, MarketData([NseClient(nse_server.url)]), gemini, forecaster, options, Console(quiet=True).print
        )
        elapsed = time.perf_counter() - started
        store.close()
    ideal = min(args.workers / args.latency, args.keys * args.per_window / args.window)
    per_key = gemini_fake.calls_per_key()
    counts = [per_key.get(key, 0) for key in keys]
    print(
        json.dumps(
            {
                "throughput_ratio": round(stocks / elapsed / ideal, 3),
                "stocks_per_second": round(stocks / elapsed, 2),
                "ideal_stocks_per_second": round(ideal, 2),
                "stocks_lost": stocks - len(summary.done),
                "key_spread": round(max(counts) / max(min(counts), 1), 3),
                "calls_per_key": counts,
                "rate_limited": sum(gemini.pool.rate_limited),
                "stocks": stocks,
                "quick": args.quick,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
