from datetime import datetime

from rich.console import Console

from niftybaskets.baskets import Basket
from niftybaskets.cli.rebalance_portfolio import print_report
from niftybaskets.market import IST
from niftybaskets.rebalance.execute import RunMode, RunResult
from niftybaskets.rebalance.report import markdown_summary, report_data


def test_a_run_stopped_before_planning_says_only_why(tmp_path):
    result = RunResult(
        "NBABC123", "ZP0001", Basket(tmp_path / "b.json", {"A": 1.0}), RunMode.LIVE, datetime(2026, 11, 23, tzinfo=IST)
    )
    result.stop_reason = "The Kite session expired while waiting for the market."
    console = Console(record=True, width=200)
    print_report(result, console)
    assert console.export_text().strip() == f"Stopped before planning: {result.stop_reason}"
    assert "Stopped before planning" in markdown_summary(result)
    assert report_data(result)["stocks"] == []
