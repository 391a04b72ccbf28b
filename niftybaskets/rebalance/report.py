"""The rebalance report's content: a JSON document and a Markdown summary from one result, and the
words both share with the console's table (which the application layer draws)."""

from __future__ import annotations

from dataclasses import asdict

from niftybaskets.rebalance.execute import OrderRecord, RunResult, sentence


def percent(part: float, whole: float) -> float:
    return round(100 * part / whole, 3) if whole else 0.0


def order_line(order: OrderRecord, sent: bool) -> str:
    """What became of an order, as the tables show it: "BUY 39 filled", "SELL 10 refused",
    "BUY 20 of 39 partly filled", "BUY 32 not sent"; a dry run's "BUY 39 not sent (dry run)"."""
    count = f"{order.filled} of {order.quantity}" if order.outcome == "partly filled" else str(order.quantity)
    return f"{order.side} {count} {order.outcome}" + ("" if sent else " (dry run)")


def order_reasons(result: RunResult) -> list[str]:
    """One line per order not filled (and per filled one with something to say), with why."""
    if not result.sends_orders:
        return []  # every order of a dry run is not sent for the same reason, which the report says
    lines = []
    for order in result.orders:
        if order.outcome == "filled" and not order.message:
            continue
        why = f": {order.message}" if order.message else ""
        lines.append(sentence(f"{order.symbol} {order.side} {order.quantity}: {order.outcome}{why}"))
    return lines


def after_text(deficit: dict) -> str:
    if deficit["after"] is None:
        return "after: unknown, the run stopped before it could read the account again (see Kite's order book)"
    label = "expected after" if deficit["after_is_expected"] else "after"
    return f"{label} ₹{deficit['after']:,.0f} ({deficit['after_percent']:.2f}%)"


def report_data(result: RunResult) -> dict:
    """Everything a machine needs: passes, orders with ids and statuses, deficits and why it stopped."""
    plan = result.first_plan
    end = result.end
    stocks = []
    # A run that stopped before a pass (the deficit already under the target) would send nothing.
    orders = plan.orders if plan is not None and result.passes else []
    if plan is not None:
        for symbol in sorted(set(plan.targets) | set(plan.held)):
            planned = [order for order in orders if order.symbol == symbol]
            # A dry run changes nothing: its "after" is the plan's, when it would trade at all. A live
            # run's is what Kite shows (None: the run stopped before it could read the account again).
            expected = plan.after[symbol] if orders else plan.held[symbol]
            held_after = (end.quantities.get(symbol, 0) if end else None) if result.sends_orders else expected
            stocks.append(
                {
                    "symbol": symbol,
                    "weight": result.basket.weights.get(symbol, 0.0),
                    "price": plan.prices[symbol],
                    "price_source": result.start.price_sources.get(symbol) if result.start else None,
                    "held_before": plan.held[symbol],
                    "target_value": round(plan.targets.get(symbol, 0.0), 2),
                    "planned": [f"{order.side} {order.quantity}" for order in planned],
                    "held_after": held_after,
                    "held_after_is_expected": not result.sends_orders,
                    "charges": round(
                        sum(order_charges(order, result) for order in result.orders if order.symbol == symbol), 2
                    ),
                }
            )
    return {
        "run_id": result.run_id,
        "user_id": result.user_id,
        "mode": str(result.mode),
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
            "after_is_expected": not result.sends_orders,
        },
        "charges": charges_data(result),
        "skipped": [
            {
                "symbol": trade.symbol,
                "side": trade.side,
                "quantity": trade.quantity,
                "value": round(trade.value, 2),
                "charges": round(trade.charges, 2),
                "reason": trade.reason,
            }
            for trade in (plan.skipped if plan is not None else [])
        ],
        "stop_reason": result.stop_reason,
        "failed": result.failed,
        "warnings": result.basket.warnings,
        "notes": result.notes,
        "stocks": stocks,
        "passes": [
            {
                "number": record.number,
                "deficit_before": round(record.deficit_before, 2),
                "expected_after": round(record.expected_after, 2),
                "deficit_after": None if record.deficit_after is None else round(record.deficit_after, 2),
                "orders": [{**asdict(order), "outcome": order.outcome} for order in record.orders],
            }
            for record in result.passes
        ],
    }


def order_charges(order: OrderRecord, result: RunResult) -> float:
    """An order's estimated charges: of the shares filled, or for a dry run of all it would send."""
    return order.charges * order.filled / order.quantity if result.sends_orders else order.charges


def charges_data(result: RunResult) -> dict:
    """The orders' estimated charges (the ledger's cost model): for a run that sends, of what was filled;
    for a dry run, of what it would send. With the value traded, and the charges' share of it."""
    charges = sum(order_charges(order, result) for order in result.orders)
    if result.sends_orders:
        traded = sum(order.filled * order.average_price for order in result.orders)
    else:
        traded = sum(order.quantity * order.planned_price for order in result.orders)
    return {"estimated": round(charges, 2), "traded": round(traded, 2), "percent_of_traded": percent(charges, traded)}


def charges_text(charges: dict) -> str:
    return (
        f"charges ₹{charges['estimated']:,.2f} (estimated), {charges['percent_of_traded']:.3f}% "
        f"of ₹{charges['traded']:,.0f} traded"
    )


def skipped_lines(data: dict) -> list[str]:
    """One line per trade left out, with why: the drift band, or charges above what it removes."""
    return [
        f"{trade['symbol']} {trade['side']} {trade['quantity']} (₹{trade['value']:,.0f}, charges "
        f"₹{trade['charges']:,.2f}) skipped: {trade['reason']}."
        for trade in data["skipped"]
    ]


def held_after_label(result: RunResult) -> str:
    return "held after" if result.sends_orders else "planned after"


def order_lines(result: RunResult) -> dict[str, list[str]]:
    """Each stock's order lines, each with what became of it. A planned order that has no record
    (none should be left without one) is shown as not sent, never as if it were done."""
    lines: dict[str, list[str]] = {}
    for order in result.orders:
        lines.setdefault(order.symbol, []).append(order_line(order, result.sends_orders))
    if result.first_plan is not None and result.passes:
        for order in result.first_plan.orders:
            if order.symbol not in lines:
                suffix = "" if result.sends_orders else " (dry run)"
                lines[order.symbol] = [f"{order.side} {order.quantity} not sent{suffix}"]
    return lines


def markdown_summary(result: RunResult) -> str:
    data = report_data(result)
    if result.first_plan is None:
        return (
            f"## Rebalance {data['run_id']} for {data['user_id']}\n\n"
            + sentence(f"Stopped before planning: {data['stop_reason']}")
            + "\n"
        )
    deficit = data["deficit"]
    lines = [
        f"## Rebalance {data['run_id']} ({data['mode']}) for {data['user_id']}",
        "",
        f"Basket `{data['basket']}`, total value ₹{data['total_value']:,.0f}.",
        f"Deficit before ₹{deficit['before']:,.0f} ({deficit['before_percent']:.2f}%), {after_text(deficit)}; "
        f"{charges_text(data['charges'])}. " + sentence(f"Stopped: {data['stop_reason']}"),
        "",
        f"| stock | price (source) | held | target ₹ | orders | charges ₹ | {held_after_label(result)} |",
        "|---|---:|---:|---:|---|---:|---:|",
    ]
    lines_by_symbol = order_lines(result)
    for stock in data["stocks"]:
        orders = ", ".join(lines_by_symbol.get(stock["symbol"], [])) or "-"
        held_after = "?" if stock["held_after"] is None else stock["held_after"]
        lines.append(
            f"| {stock['symbol']} | {stock['price']:,.2f} ({stock['price_source'] or '?'}) | {stock['held_before']} "
            f"| {stock['target_value']:,.0f} | {orders} | {stock['charges']:,.2f} | {held_after} |"
        )
    reasons = [*order_reasons(result), *skipped_lines(data)]
    if reasons:
        lines += ["", *(f"- {_markdown_text(line)}" for line in reasons)]
    return "\n".join(lines) + "\n"


def _markdown_text(text: str) -> str:
    """One line of plain text for a Markdown list item."""
    return " ".join(text.split())
