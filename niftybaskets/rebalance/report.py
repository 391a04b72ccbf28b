"""The rebalance report: a console table, a JSON document and a Markdown summary, from one result."""

from __future__ import annotations

from dataclasses import asdict

from rich.console import Console
from rich.table import Table

from niftybaskets.rebalance.execute import RunResult


def percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 3) if whole else 0.0


def _after(deficit: dict) -> str:
    if deficit["after"] is None:
        return "after: unknown, the run stopped before it could read the account again (see Kite's order book)"
    label = "expected after" if deficit["after_is_expected"] else "after"
    return f"{label} ₹{deficit['after']:,.0f} ({deficit['after_percent']:.2f}%)"


def report_data(result: RunResult) -> dict:
    """Everything a machine needs: passes, orders with ids and statuses, deficits and why it stopped."""
    plan = result.first_plan
    end = result.end
    stocks = []
    if plan is not None:
        for symbol in sorted(set(plan.targets) | set(plan.held)):
            planned = [order for order in plan.orders if order.symbol == symbol]
            stocks.append(
                {
                    "symbol": symbol,
                    "weight": result.basket.weights.get(symbol, 0.0),
                    "price": plan.prices[symbol],
                    "held_before": plan.held[symbol],
                    "target_value": round(plan.targets.get(symbol, 0.0), 2),
                    "planned": [f"{order.side} {order.quantity}" for order in planned],
                    "held_after": (
                        end.quantities.get(symbol, 0) if end else None if result.live else plan.after[symbol]
                    ),
                }
            )
    return {
        "run_id": result.run_id,
        "user_id": result.user_id,
        "mode": "live" if result.live else "dry-run",
        "basket": str(result.basket.path),
        "started_at": result.started_at.isoformat(),
        "total_value": round(result.total_value, 2),
        "deficit": {
            "before": round(result.deficit_before, 2),
            "before_percent": percent(result.deficit_before, result.total_value),
            "after": None if result.deficit_after is None else round(result.deficit_after, 2),
            "after_percent": None
            if result.deficit_after is None
            else percent(result.deficit_after, result.total_value),
            "after_is_expected": not result.live,
        },
        "stop_reason": result.stop_reason,
        "exit_code": result.exit_code,
        "warnings": result.basket.warnings,
        "notes": result.notes,
        "stocks": stocks,
        "passes": [
            {
                "number": record.number,
                "deficit_before": round(record.deficit_before, 2),
                "expected_after": round(record.expected_after, 2),
                "deficit_after": None if record.deficit_after is None else round(record.deficit_after, 2),
                "orders": [asdict(order) for order in record.orders],
            }
            for record in result.passes
        ],
    }


def print_report(result: RunResult, console: Console) -> None:
    data = report_data(result)
    if result.first_plan is None:  # it stopped before looking at the account
        console.print(f"Stopped before planning: {data['stop_reason']}", highlight=False)
        return
    table = Table(title=f"Rebalance {data['run_id']} of {data['user_id']} ({data['mode']})")
    for column in ("stock", "weight", "price", "held", "target ₹", "orders", "held after"):
        table.add_column(column, justify="left" if column in ("stock", "orders") else "right")
    statuses: dict[str, list[str]] = {}
    for order in result.orders:
        note = f" {order.status}" if order.status != "COMPLETE" else ""
        statuses.setdefault(order.symbol, []).append(f"{order.side} {order.filled or order.quantity}{note}")
    for stock in data["stocks"]:
        orders = statuses.get(stock["symbol"]) or stock["planned"]
        table.add_row(
            stock["symbol"],
            f"{stock['weight']:.1%}",
            f"{stock['price']:,.2f}",
            str(stock["held_before"]),
            f"{stock['target_value']:,.0f}",
            ", ".join(orders) or "-",
            "?" if stock["held_after"] is None else str(stock["held_after"]),
        )
    console.print(table)
    console.print(
        f"Total value ₹{data['total_value']:,.0f}; deficit before ₹{data['deficit']['before']:,.0f} "
        f"({data['deficit']['before_percent']:.2f}%), {_after(data['deficit'])}.",
        highlight=False,
    )
    for order in result.orders:
        if order.message and order.status != "COMPLETE":
            console.print(
                f"{order.symbol} {order.side} {order.quantity}: {order.status}. {order.message}", highlight=False
            )
    for line in [*data["warnings"], *data["notes"]]:
        console.print(f"Note: {line}", highlight=False)
    console.print(f"Stopped: {data['stop_reason']}.", highlight=False)


def markdown_summary(result: RunResult) -> str:
    data = report_data(result)
    if result.first_plan is None:
        return (
            f"## Rebalance {data['run_id']} for {data['user_id']}\n\nStopped before planning: {data['stop_reason']}\n"
        )
    deficit = data["deficit"]
    lines = [
        f"## Rebalance {data['run_id']} ({data['mode']}) for {data['user_id']}",
        "",
        f"Basket `{data['basket']}`, total value ₹{data['total_value']:,.0f}.",
        f"Deficit before ₹{deficit['before']:,.0f} ({deficit['before_percent']:.2f}%), {_after(deficit)}. "
        f"Stopped: {data['stop_reason']}.",
        "",
        "| stock | held | target ₹ | orders | held after |",
        "|---|---:|---:|---|---:|",
    ]
    for stock in data["stocks"]:
        sent = [f"{o.side} {o.quantity} {o.status}" for o in result.orders if o.symbol == stock["symbol"]]
        orders = ", ".join(sent or stock["planned"]) or "-"
        held_after = "?" if stock["held_after"] is None else stock["held_after"]
        lines.append(
            f"| {stock['symbol']} | {stock['held_before']} | {stock['target_value']:,.0f} | {orders} | {held_after} |"
        )
    return "\n".join(lines) + "\n"
