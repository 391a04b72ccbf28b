"""The ledger's charts as SVG files, drawn with matplotlib, byte for byte the same for the same ledger."""

from __future__ import annotations

from pathlib import Path

import matplotlib
from matplotlib.dates import DateFormatter
from matplotlib.figure import Figure

from niftybaskets.ledger.score import Ledger

# Fixed ids and no timestamp in the file, so an unchanged ledger redraws identical SVGs (no commit).
matplotlib.rcParams.update({"svg.hashsalt": "niftybaskets", "svg.fonttype": "none", "font.size": 9})
UP, DOWN, INDEX = "#1a7f37", "#cf222e", "#59636e"


def _save(figure: Figure, path: Path) -> None:
    figure.tight_layout()
    figure.savefig(path, format="svg", metadata={"Date": None})


def growth_chart(ledger: Ledger, path: Path) -> None:
    figure = Figure(figsize=(7, 3.4))
    axes = figure.add_subplot()
    days = [point.day for point in ledger.growth]
    axes.plot(days, [p.following for p in ledger.growth], marker="o", color=UP, label="Following the baskets")
    axes.plot(days, [p.index for p in ledger.growth], marker="s", color=INDEX, label=ledger.index)
    axes.set_title("Growth of Rs 1,00,000 (after costs; the index before costs)")
    axes.set_ylabel("Rupees")
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:,.0f}")
    axes.xaxis.set_major_formatter(DateFormatter("%d %b %y"))
    axes.grid(alpha=0.3)
    axes.legend(loc="best")
    figure.autofmt_xdate()
    _save(figure, path)


def excess_chart(ledger: Ledger, path: Path) -> None:
    scored = ledger.scored
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    values = [score.excess * 100 for score in scored]
    labels = [f"{score.basket.created:%d %b %y}" for score in scored]
    axes.bar(range(len(values)), values, color=[UP if v >= 0 else DOWN for v in values])
    axes.set_xticks(range(len(values)), labels, rotation=45, ha="right")
    axes.axhline(0, color=INDEX, linewidth=0.8)
    axes.set_title("Each basket after costs, minus the index (percentage points)")
    axes.set_ylabel("Excess return, %")
    axes.grid(axis="y", alpha=0.3)
    _save(figure, path)


def calibration_chart(ledger: Ledger, path: Path) -> None:
    buckets = ledger.calibration
    figure = Figure(figsize=(7, 3.2))
    axes = figure.add_subplot()
    positions = range(len(buckets))
    axes.bar(
        [p - 0.2 for p in positions], [b.mean_predicted for b in buckets], width=0.4, color=INDEX, label="Predicted"
    )
    axes.bar([p + 0.2 for p in positions], [b.mean_realised for b in buckets], width=0.4, color=UP, label="Realised")
    axes.set_xticks(list(positions), [f"{b.label}\n({b.count})" for b in buckets])
    axes.axhline(0, color=INDEX, linewidth=0.8)
    axes.set_title("Forecasts by predicted gain: mean predicted vs mean realised gain")
    axes.set_ylabel("Gain, %")
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="best")
    _save(figure, path)
