"""Check the set-up: every outside service the project uses (NSE's routes, NSE Indices' files, Yahoo,
your Kite login and plan, each Gemini key, GitHub), ENCRYPTION_KEY, Python and the pinned packages.
One line each: ✓ works, ✗ fails (with the next step), – skipped or not configured. Nothing is
traded, no login is made, and no key or token is ever printed."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.text import Text

from niftybaskets.baskets import BasketError, nse_symbol
from niftybaskets.cli.common import run, script_parser
from niftybaskets.config import ConfigError, load_settings
from niftybaskets.doctor import GROUPS, Options, Report, run_checks
from niftybaskets.errors import BAD_INPUT, DONE, FAILED

ENVIRONMENT = [
    "KITE_API_KEY",
    "KITE_API_SECRET",
    "KITE_API_ROOT",
    "KITE_ACCESS_TOKEN",
    "ENCRYPTION_KEY",
    "GEMINI_API_KEYS",
    "GEMINI_MODEL",
    "GEMINI_BASE_URL",
    "MARKET_DATA_SOURCES",
    "NSE_BASE_URL",
    "NIFTY_INDICES_BASE_URL",
    "YAHOO_BASE_URL",
    "DATA_DIR",
    "GITHUB_TOKEN",
    "GITHUB_REPOSITORY",
    "GITHUB_API_URL",
    "INDEX",
]
EXAMPLES = [
    "python3 scripts/doctor.py",
    "python3 scripts/doctor.py --only nse,niftyindices,yahoo,gemini",
    "python3 scripts/doctor.py --only kite.login,nse.quote --json",
]
NOTE = """\
what the exit code says (among the checks selected):
  0  the main job can run: a source of index lists answers (NSE's list or NSE Indices' file), a source
     of prices answers (NSE's quote, Yahoo's, or Kite's ltp), and what is configured works: at least
     one Gemini key, the Kite login, the GitHub token. Other ✗ lines (one source down while another
     answers, history routes, a Kite plan without market or historical data, a package at another
     version than its pin) are shown but do not stop the job.
  1  a needed service fails: no source of index lists or of prices answers, every Gemini key fails,
     the Kite login is missing or refused, or GitHub refuses the token.
  2  configuration is missing or wrong: neither a Gemini key (research) nor a Kite set-up (rebalance)
     is configured (or, with --only, none of those selected), KITE_API_KEY without ENCRYPTION_KEY,
     ENCRYPTION_KEY not a Fernet key, MARKET_DATA_SOURCES without a source of index lists or prices,
     Python older than 3.11, a pinned package not installed, or a bad setting in .env.
--exit-zero turns 1 and 2 into 0 (the rebalance workflow's doctor only reports).

More in README.md, "Checking the set-up: doctor.py"."""

MARKS = {"ok": ("✓", "green"), "fail": ("✗", "red"), "skip": ("–", "dim")}
DETAIL_WIDTH = 300  # the lines are cut here; --json has them whole
VERDICT_CODES = {"ok": DONE, "failed": FAILED, "misconfigured": BAD_INPUT}


def only_names(text: str) -> set[str]:
    names = {name.strip().lower() for name in text.split(",") if name.strip()}
    unknown = sorted(name for name in names if name.split(".", 1)[0] not in GROUPS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown check {', '.join(unknown) or '(none)'}: choose from {', '.join(GROUPS)} "
            "(or one line of them, e.g. nse.quote), comma-separated"
        )
    return names


def symbol(text: str) -> str:
    try:
        return nse_symbol(text)
    except BasketError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 600:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0 and at most 600")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = script_parser(
        __doc__,
        environment=ENVIRONMENT,
        examples=EXAMPLES,
        note=NOTE,
        extra_environment={"INDEX": "the index whose list is asked for (default NIFTY 50)"},
    )
    parser.add_argument(
        "--only",
        type=only_names,
        help=f"check only these, comma-separated: {', '.join(GROUPS)}, or single lines such as nse.quote, "
        "yahoo.quote, kite.login (default: all)",
    )
    parser.add_argument(
        "--index",
        default=os.environ.get("INDEX") or "NIFTY 50",
        help="the index whose list is asked for (default: INDEX, else %(default)s)",
    )
    parser.add_argument("--symbol", type=symbol, default="RELIANCE", help="the stock quoted (default: %(default)s)")
    parser.add_argument(
        "--timeout", type=seconds, default=15.0, help="seconds each check may take (default: %(default)g)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of lines")
    parser.add_argument("--exit-zero", action="store_true", help="exit 0 whatever the checks found")
    return parser


def print_report(console: Console, report: Report, options: Options, exit_zero: bool = False) -> None:
    console.print(f"Checking the set-up (index {options.index}, stock {options.symbol}):")
    width = max((len(each.label) for each in report.results), default=0)
    for each in report.results:
        mark, style = MARKS[each.status]
        line = Text(f"{mark} ", style=style)
        line.append(each.label.ljust(width), style="bold")
        detail = each.detail if len(each.detail) <= DETAIL_WIDTH else each.detail[: DETAIL_WIDTH - 1] + "…"
        line.append(f"  {detail}")
        if each.status != "skip":
            line.append(f" ({each.seconds:.1f} s)", style="dim")
        console.print(line)
        if each.next_step and each.status != "ok":
            console.print(Text(f"    → {each.next_step}", style="yellow" if each.status == "fail" else "dim"))
    code = VERDICT_CODES[report.verdict]
    exit_text = f"exit {code}" + (", 0 with --exit-zero" if exit_zero and code else "")
    if report.verdict == "ok":
        console.print(Text(f"The main job can run ({exit_text}).", style="green bold"))
    else:
        what = "A needed service fails" if report.verdict == "failed" else "The set-up is incomplete"
        console.print(Text(f"{what} ({exit_text}): {'; '.join(report.reasons)}.", style="red bold"))


def report_document(report: Report, options: Options) -> dict:
    return {
        "verdict": report.verdict,
        "exit_code": VERDICT_CODES[report.verdict],
        "reasons": report.reasons,
        "index": options.index,
        "symbol": options.symbol,
        "checks": [asdict(each) for each in report.results],
    }


def doctor(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        if args.json:
            print(
                json.dumps({"verdict": "misconfigured", "exit_code": BAD_INPUT, "reasons": [str(error)], "checks": []})
            )
        else:
            print(f"error: {error}", file=sys.stderr)
        return DONE if args.exit_zero else BAD_INPUT
    options = Options(index=args.index, symbol=args.symbol, timeout=args.timeout, repository_folder=Path.cwd())
    if args.only:
        options.only = args.only
    report = run_checks(settings, options)
    if args.json:
        print(json.dumps(report_document(report, options), ensure_ascii=False, indent=2))
    else:
        print_report(Console(highlight=False, soft_wrap=True), report, options, args.exit_zero)
    return DONE if args.exit_zero else VERDICT_CODES[report.verdict]


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser(), argv, doctor)
