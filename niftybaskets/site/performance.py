"""The scored ledger on the Pages site: docs/performance/{index}.md with its charts and numbers
(JSON), and a score section on each scored basket's page.

Everything is rebuilt from the ledger each run and a file is only written when its content
changes, so scoring again with nothing new leaves the tree as it was.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from urllib.parse import quote

from niftybaskets.ledger.prices import PriceSeries
from niftybaskets.ledger.score import START_CAPITAL, BasketScore, ForecastScore, Ledger
from niftybaskets.site.charts import calibration_chart, excess_chart, growth_chart

FOLDER = "performance"
SCORE_START, SCORE_END = "<!-- score:start -->", "<!-- score:end -->"
SOURCES = {
    "nse": "NSE's daily history (prices as traded, joined across splits and bonuses with NSE's list of "
    "corporate actions)",
    "kite": "Kite Connect's daily candles (adjusted by Zerodha for splits, bonuses and other corporate actions)",
    "yahoo": "Yahoo Finance's daily history (adjusted by Yahoo for splits and bonuses)",
}


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def percent(value: float | None, signed: bool = True) -> str:
    if value is None:
        return "missing"
    return f"{value * 100:+.2f}%" if signed else f"{value * 100:.2f}%"


def rupees(value: float) -> str:
    """Whole rupees grouped the Indian way: ₹1,10,271."""
    digits = f"{abs(round(value))}"
    head, tail = digits[:-3], digits[-3:]
    groups = []
    while len(head) > 2:
        head, groups = head[:-2], [head[-2:], *groups]
    grouped = ",".join([head, *groups, tail] if head else [*groups, tail])
    return f"{'-' if value < 0 else ''}₹{grouped}"


def write_if_changed(path: Path, text: str) -> bool:
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def basket_link(score: BasketScore) -> str:
    return f"[{score.basket.created:%d %b %Y %H:%M}](../baskets/{quote(score.basket.stem)})"


def _summary(ledger: Ledger) -> list[str]:
    scored = ledger.scored
    counts = {status: sum(s.status == status for s in ledger.baskets) for status in ("open", "missing prices")}
    lines = ["## Summary", "", "| | |", "|---|---|"]
    lines.append(
        f"| Baskets scored | {len(scored)} of {len(ledger.baskets)} ({counts['open']} open, "
        f"{counts['missing prices']} with prices missing) |"
    )
    if scored:
        net = statistics.fmean(s.net for s in scored)
        lines.append(f"| Average basket return after costs | {percent(net)} |")
        lines.append(
            f"| Average index return, same days | {percent(statistics.fmean(s.index_return for s in scored))} |"
        )
        beat = sum(s.excess > 0 for s in scored)
        lines.append(f"| Baskets that beat the index after costs | {beat} of {len(scored)} |")
    if ledger.growth:
        last = ledger.growth[-1]
        lines.append(
            f"| {rupees(START_CAPITAL)} following the baskets | {rupees(last.following)} "
            f"(the index: {rupees(last.index)}) on {last.day:%d %b %Y} |"
        )
    hits = sum(f.direction_hit for f in ledger.forecasts)
    if ledger.forecasts:
        lines.append(
            f"| Forecasts scored | {len(ledger.forecasts)} ({ledger.open_forecasts} open); direction right for "
            f"{hits} ({percent(ledger.direction_hit_rate, signed=False)}) |"
        )
    ic = ledger.information_coefficient
    lines.append(
        "| Information coefficient (Spearman, predicted vs realised gain) | "
        + (f"{ic:+.3f} over {len(ledger.forecasts)} forecasts |" if ic is not None else "not enough forecasts yet |")
    )
    return lines


def _baskets(ledger: Ledger, slug_: str) -> list[str]:
    lines = [
        "## Baskets",
        "",
        "| Basket | Bought | Sold | Before costs | Costs | After costs | Index | Excess | Status |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for score in reversed(ledger.baskets):
        span = score.window
        costs = percent(score.costs.total / START_CAPITAL, signed=False) if score.costs else ""
        status = {"open": f"open until {span.exit:%d %b %Y}", "missing prices": "prices missing"}.get(
            score.status, "scored" + (" (flagged)" if score.flags else "")
        )
        numbers = (
            [percent(score.gross), costs, percent(score.net), percent(score.index_return), percent(score.excess)]
            if score.status == "scored"
            else ["", "", "", "", ""]
        )
        lines.append(
            f"| <a id='{slug(score.basket.stem)}'></a>{basket_link(score)} | {span.entry:%d %b %Y} "
            f"{score.entry_kind} | {span.exit:%d %b %Y} close | " + " | ".join(numbers) + f" | {status} |"
        )
    if ledger.scored:
        lines += ["", f"![Each basket after costs, minus the index]({slug_}-excess.svg)"]
        lines += [
            "",
            f"### Costs of each basket, bought and sold with {rupees(START_CAPITAL)}",
            "",
            "| Basket | STT | Stamp duty | Exchange | SEBI | GST | DP | Total |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for score in reversed(ledger.scored):
            c = score.costs
            lines.append(
                f"| {basket_link(score)} | "
                + " | ".join(f"{v:,.2f}" for v in (c.stt, c.stamp_duty, c.exchange, c.sebi, c.gst, c.dp, c.total))
                + " |"
            )
    detailed = [s for s in reversed(ledger.baskets) if s.holdings]
    if detailed:
        lines += [
            "",
            "### Stocks",
            "",
            "Prices are on the share basis of the day bought: a later price is divided by the factor of any "
            "split or bonus in between (0.5 for a 1:2 split).",
            "",
            "| Basket | Stock | Weight | Bought at | Sold at | Split/bonus factor | Return |",
            "|---|---|---|---|---|---|---|",
        ]
        for score in detailed:
            for h in score.holdings:
                bought = f"{h.entry_price:,.2f}" if h.entry_price is not None else "missing"
                sold = f"{h.exit_price:,.2f}" if h.exit_price is not None else "missing"
                factor = f"{h.factor:g}" if h.factor != 1 else ""
                lines.append(
                    f"| {basket_link(score)} | {h.symbol} | {h.weight:.2%} | {bought} | {sold} | {factor} | "
                    f"{percent(h.gross_return)} |"
                )
    return lines


def _forecasts(ledger: Ledger, slug_: str) -> list[str]:
    lines = ["## Forecasts", ""]
    if not ledger.forecasts:
        return [*lines, "No forecast has reached its horizon yet."]
    lines += [
        "Each forecast in a basket's forecasts file (picked or not), checked on the close of the last session "
        "within its horizon: the error is how far that close ended from the target; the direction is right when "
        "the stock rose and the forecast predicted a gain, or it fell and it predicted none.",
        "",
        "### Calibration",
        "",
        "| Predicted gain | Forecasts | Mean predicted | Mean realised | Direction right |",
        "|---|---|---|---|---|",
    ]
    for b in ledger.calibration:
        lines.append(
            f"| {b.label} | {b.count} | {b.mean_predicted:+.2f}% | {b.mean_realised:+.2f}% | {b.hit_rate:.0%} |"
        )
    lines += ["", f"![Calibration: mean predicted vs mean realised gain]({slug_}-calibration.svg)", ""]
    lines += [
        "### Every forecast",
        "",
        "| Basket | Stock | Picked | Checked on | From | Target | Close | Predicted | Realised | Error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    by_stem = {s.basket.stem: s for s in ledger.baskets}
    for f in sorted(ledger.forecasts, key=lambda f: (f.day, f.basket, f.symbol), reverse=True):
        lines.append(_forecast_row(f, basket_link(by_stem[f.basket])))
    return lines


def _forecast_row(f: ForecastScore, link: str) -> str:
    return (
        f"| {link} | {f.symbol} | {'yes' if f.chosen else ''} | {f.day:%d %b %Y} | {f.base:,.2f} | {f.target:,.2f} | "
        f"{f.realised_price:,.2f} | {f.predicted_gain:+.2f}% | {f.realised_gain:+.2f}% | {f.error:+.2f}% |"
    )


def _notes(ledger: Ledger, problems: list[str]) -> list[str]:
    notes = [text for score in ledger.baskets for text in score.missing]
    notes += ledger.missing_forecasts
    notes += [text for score in ledger.baskets for text in score.flags]
    notes += [f"{stem} is not in the growth line: {why}" for stem, why in ledger.left_out_of_growth]
    notes += [score.basket.problem for score in ledger.baskets if score.basket.problem]
    notes += [f"Not scored: {problem}" for problem in problems]
    if not notes:
        return []
    return ["## Notes", "", *(f"- {note}" for note in dict.fromkeys(notes))]


def _method(ledger: Ledger, sources: list[str]) -> list[str]:
    c = ledger.cost_model
    return [
        "## How this is scored",
        "",
        "- Each basket is bought at the open (or close, as the table says) of the first session whose "
        "pre-open auction (09:00 IST, where the open is set) starts after its publication time, with the "
        "weights it was published with, and sold at the close of the last session on or before that day plus "
        "its horizon. No price known at publication is used.",
        f"- Prices: {'; where it had none, '.join(SOURCES[source] for source in sources)} (each price row in "
        "the JSON names its source). Dividends are not counted, for the baskets or the index (a price index).",
        f"- Costs (equity delivery on NSE through Zerodha): STT {c.stt_rate:.3%} on buys and sells, stamp "
        f"duty {c.stamp_duty_rate:.3%} on buys, exchange charges {c.exchange_rate:.5%}, SEBI fees "
        f"{c.sebi_rate:.4%}, GST {c.gst_rate:.0%} on brokerage, exchange charges, SEBI fees and the DP charge, "
        f"brokerage {c.brokerage_rate:.2%}, and a DP charge of ₹{c.dp_charge:g} + GST for each stock sold. "
        "Fractional shares are assumed: with a small account, whole shares leave some money uninvested.",
        f"- The growth line starts with {rupees(START_CAPITAL)} and follows the baskets as the rebalancer "
        "would: each is held until the next one is bought (and sold at that moment's price) or until its "
        "horizon ends, in cash after that. A basket that cannot be valued (a missing price) is a stretch in "
        "cash; the line ends where a basket is still held. The index line holds the index over the same "
        "sessions, without costs.",
        "- Costs are per basket for ₹1 lakh: the DP charge is a fixed amount per stock sold, so a smaller "
        "account pays a larger share. Income tax is not counted: short-term capital gains on shares held "
        "under a year are taxed (20% since July 2024).",
        "- The information coefficient is the rank correlation between the gains the forecasts predicted "
        "and the gains that followed: +1 if the forecasts ranked the stocks exactly right, 0 if their order "
        "said nothing, below 0 if it was backwards. With a few baskets or forecasts, every number here is "
        "mostly luck: read it as a record, not a promise.",
        "- A basket is open until its last session has closed and NSE has published the prices (18:00 IST). "
        "A missing price is shown as missing and that basket has no return; nothing is counted as zero.",
        f"- Every number here is in [the JSON file]({slug(ledger.index)}.json), with the basket file and the "
        "price rows (as the source gave them, and the split/bonus factor applied) it comes from.",
    ]


def page_markdown(ledger: Ledger, sources: list[str], problems: list[str]) -> str:
    slug_ = slug(ledger.index)
    lines = [
        f"# Scored ledger: {ledger.index}",
        "",
        f"Every basket published for {ledger.index}, checked against what the market did after it was "
        "published, next to simply holding the index. Updated after each research run. Not investment advice.",
        "",
        *_summary(ledger),
    ]
    if ledger.growth:
        lines += ["", f"![Growth of ₹1 lakh following the baskets, against the index]({slug_}-growth.svg)"]
    lines += ["", *_baskets(ledger, slug_), "", *_forecasts(ledger, slug_)]
    notes = _notes(ledger, problems)
    if notes:
        lines += ["", *notes]
    lines += ["", *_method(ledger, sources), ""]
    return "\n".join(lines)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 8)


def ledger_data(ledger: Ledger, sources: list[str], prices: Mapping[str, PriceSeries]) -> dict:
    """The ledger as JSON, each number next to the basket file and the source's price rows behind it."""

    def row(symbol: str, day: date) -> dict | None:
        series = prices.get(symbol)
        found = series.days.get(day) if series else None
        if not found:
            return None
        return {"day": day.isoformat(), "open": found.open, "close": found.close, "source": series.source}

    baskets = []
    for score in ledger.baskets:
        span = score.window
        baskets.append(
            {
                "basket": score.basket.path,
                "status": score.status,
                "published": score.basket.created.isoformat(),
                "horizon_days": score.basket.horizon_days,
                "bought": {"day": span.entry.isoformat(), "at": score.entry_kind},
                "sold": {"day": span.exit.isoformat(), "at": "close"},
                "gross_return": _round(score.gross),
                "costs_on_100000": {k: _round(v) for k, v in score.costs.as_dict().items()} if score.costs else None,
                "net_return": _round(score.net),
                "index": {
                    "name": score.basket.index,
                    "bought": _round(score.index_entry),
                    "sold": _round(score.index_exit),
                    "return": _round(score.index_return),
                    "rows": [row(score.basket.index, span.entry), row(score.basket.index, span.exit)],
                },
                "excess_return": _round(score.excess),
                "stocks": [
                    {
                        "symbol": h.symbol,
                        "weight": h.weight,
                        "bought": _round(h.entry_price),
                        "sold": _round(h.exit_price),
                        "split_bonus_factor": h.factor,
                        "return": _round(h.gross_return),
                        "rows": [row(h.symbol, span.entry), row(h.symbol, span.exit)],
                        "missing": h.missing or None,
                    }
                    for h in score.holdings
                ],
                "flags": score.flags,
                "missing": score.missing,
            }
        )
    forecasts = [
        {
            "basket": next(s.basket.forecasts_path for s in ledger.baskets if s.basket.stem == f.basket),
            "symbol": f.symbol,
            "picked": f.chosen,
            "checked_on": f.day.isoformat(),
            "from_price": f.base,
            "target": _round(f.target),
            "close": _round(f.realised_price),
            "split_bonus_factor": f.factor,
            "row": row(f.symbol, f.day),
            "predicted_gain_percent": _round(f.predicted_gain),
            "realised_gain_percent": _round(f.realised_gain),
            "error_percent": _round(f.error),
            "direction_right": f.direction_hit,
        }
        for f in ledger.forecasts
    ]
    return {
        "index": ledger.index,
        "prices": sources,
        "start_capital": START_CAPITAL,
        "cost_model": ledger.cost_model.__dict__,
        "baskets": baskets,
        "forecasts": forecasts,
        "information_coefficient": _round(ledger.information_coefficient),
        "direction_hit_rate": _round(ledger.direction_hit_rate),
        "calibration": [b.__dict__ for b in ledger.calibration],
        "growth": [
            {"day": p.day.isoformat(), "after": p.basket, "following": _round(p.following), "index": _round(p.index)}
            for p in ledger.growth
        ],
        "left_out_of_growth": [{"basket": stem, "why": why} for stem, why in ledger.left_out_of_growth],
    }


def score_section(score: BasketScore, slug_: str) -> str:
    span = score.window
    return "\n".join(
        [
            SCORE_START,
            "## Score",
            "",
            f"Bought {span.entry:%d %b %Y} at the {score.entry_kind}, sold {span.exit:%d %b %Y} at the close: "
            f"{percent(score.gross)} before costs, {percent(score.net)} after costs, against "
            f"{percent(score.index_return)} for {score.basket.index} (excess {percent(score.excess)}). "
            f"[The scored ledger](../{FOLDER}/{slug_}#{slug(score.basket.stem)})",
            SCORE_END,
        ]
    )


def update_basket_page(docs: Path, score: BasketScore, slug_: str) -> bool:
    """Put the score section on the basket's page (or take it off when it has none); True if changed."""
    page = docs / "baskets" / f"{score.basket.stem}.md"
    if not page.is_file():
        return False
    text = page.read_text(encoding="utf-8")
    pattern = re.compile(r"\n*" + re.escape(SCORE_START) + ".*?" + re.escape(SCORE_END) + r"\n*", re.DOTALL)
    text = pattern.sub("\n", text).rstrip("\n") + "\n"
    if score.status == "scored":
        text += "\n" + score_section(score, slug_) + "\n"
    return write_if_changed(page, text)


def write_performance(
    docs: Path, ledger: Ledger, sources: list[str], prices: Mapping[str, PriceSeries], problems: list[str]
) -> list[Path]:
    """Write the index's ledger page, charts and JSON, and the score sections; the files changed."""
    folder = docs / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    slug_ = slug(ledger.index)
    changed = []
    page = folder / f"{slug_}.md"
    if write_if_changed(page, page_markdown(ledger, sources, problems)):
        changed.append(page)
    data = folder / f"{slug_}.json"
    if write_if_changed(data, json.dumps(ledger_data(ledger, sources, prices), indent=2, ensure_ascii=False) + "\n"):
        changed.append(data)
    charts = [
        ("growth", growth_chart, bool(ledger.growth)),
        ("excess", excess_chart, bool(ledger.scored)),
        ("calibration", calibration_chart, bool(ledger.forecasts)),
    ]
    for name, draw, wanted in charts:
        path = folder / f"{slug_}-{name}.svg"
        before = path.read_bytes() if path.exists() else None
        if wanted:
            draw(ledger, path)
        elif before is not None:
            path.unlink()  # the page no longer shows it
        if (path.read_bytes() if path.exists() else None) != before:
            changed.append(path)
    for score in ledger.baskets:
        if update_basket_page(docs, score, slug_):
            changed.append(docs / "baskets" / f"{score.basket.stem}.md")
    return changed
