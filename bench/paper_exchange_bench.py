#!/usr/bin/env python3
"""Paper exchange throughput and latency through the real kiteconnect SDK; prints one JSON line.

The exchange runs as its own process (scripts/paper_exchange.py) with rate limits off; client
threads place MARKET orders and read each order's status back. The reference measured in the same
run is the floor any call pays: two authenticated GET /user/profile calls through the same SDK.
Target: >= 200 orders/s, so the exchange is never a benchmark's or a test's bottleneck.
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kiteconnect import KiteConnect

from niftybaskets.paper.embedded import login

REPOSITORY = Path(__file__).resolve().parents[1]

TARGET_ORDERS_PER_SECOND = 200
ACCOUNT = """
api_key: benchkey
api_secret: benchsecret
cash: 1000000000
prices: {IDEA: 10.0}
rules:
  market_hours: false
  order_rate_limit: 0
  order_rate_limit_per_minute: 0
  api_rate_limit: 0
  quote_rate_limit: 0
"""


def start_exchange(folder: Path) -> tuple[subprocess.Popen, str]:
    account = folder / "account.yaml"
    account.write_text(ACCOUNT)
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPOSITORY / "scripts" / "paper_exchange.py"),
            "--port",
            "0",
            "--account",
            str(account),
            "--db",
            str(folder / "bench.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return process, match.group(1)
    raise RuntimeError("the paper exchange did not start")


def timed(work, count: int, clients: int, new_client) -> tuple[list[float], float]:
    """Run `work(kite)` `count` times spread over client threads; per-call latencies and wall time."""
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = [count // clients + (1 if i < count % clients else 0) for i in range(clients)]

    def client(kite, calls: int) -> None:
        mine = []
        for _ in range(calls):
            started = time.perf_counter()
            work(kite)
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(new_client(), calls)) for calls in per_client]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def place_and_read(kite) -> None:
    order_id = kite.place_order("regular", "NSE", "IDEA", "BUY", 1, "CNC", "MARKET", market_protection=-1)
    if kite.order_history(order_id)[-1]["status"] != "COMPLETE":
        raise RuntimeError("an order did not complete")


def two_profiles(kite) -> None:
    kite.profile()
    kite.profile()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=3000, help="orders to place (default: %(default)s)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="a short smoke run for CI")
    args = parser.parse_args()
    orders = 150 if args.quick else args.orders
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_exchange(Path(folder))
        try:
            token = login(url, "benchkey", "benchsecret").access_token

            def new_client() -> KiteConnect:  # one SDK client (one HTTP session) per thread
                return KiteConnect("benchkey", access_token=token, root=url)

            timed(place_and_read, 20, 1, new_client)  # warm-up
            reference, _ = timed(two_profiles, orders, args.clients, new_client)
            latencies, elapsed = timed(place_and_read, orders, args.clients, new_client)
        finally:
            process.terminate()
            process.wait(timeout=10)
    orders_per_second = orders / elapsed
    p50 = statistics.median(latencies) * 1000
    reference_p50 = statistics.median(reference) * 1000
    print(
        json.dumps(
            {
                "orders_per_second": round(orders_per_second, 1),
                "p50_ms": round(p50, 2),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
                "throughput_vs_target": round(orders_per_second / TARGET_ORDERS_PER_SECOND, 2),
                "reference_p50_ms": round(reference_p50, 2),
                "latency_vs_reference": round(p50 / reference_p50, 2),
                "orders": orders,
                "clients": args.clients,
                "quick": args.quick,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
