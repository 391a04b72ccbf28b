"""A setting that starts with `-` stays a value (issue 12, item 11b): `BASKET=-h` through
`pipeline.py rebalance` printed the rebalancer's help and exited 0 with nothing done.

Every environment variable pipeline.py hands to a script travels as `--name=value`, or after `--`
for the rebalancer's basket, so argparse can never read it as an option.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from niftybaskets import pipeline
from niftybaskets.config import Settings
from tests.workflows.test_pipeline_steps import step

DASHED = ["-h", "--help", "--live", "-k"]


class Scripts:
    """Stands in for pipeline.script: records each script's arguments, exits `status`."""

    def __init__(self, status: int = 0) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.status = status

    def __call__(self, name: str, *args: str) -> int:
        self.calls.append((name, args))
        return self.status


def values_outside_options(args: tuple[str, ...]) -> list[str]:
    """The arguments argparse would read as options: before any `--`, starting with `-`, not ours."""
    before = args[: args.index("--")] if "--" in args else args
    return [arg for arg in before if arg.startswith("-")]


@pytest.fixture
def scripts(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    fake = Scripts()
    monkeypatch.setattr(pipeline, "script", fake)
    return fake


@pytest.mark.parametrize("value", DASHED)
def test_the_index_is_never_an_option_of_the_research_scripts(scripts, value):
    scripts.status = 1  # the portfolio step stops at the script's failure, before looking for a basket
    pipeline.research({"INDEX": value, "PASSES": "1"})
    pipeline.portfolio({"INDEX": value}, Settings())
    [(research, research_args), (portfolio, portfolio_args)] = scripts.calls
    assert (research, portfolio) == ("analyze_stocks.py", "generate_portfolio.py")
    assert f"--index={value}" in research_args and f"--index={value}" in portfolio_args
    for args in (research_args, portfolio_args):
        assert value not in args
        assert all(
            arg.split("=")[0] in {"--index", "--workers", "-p", "--force-llm", "--top-n", "--basket-k"}
            for arg in values_outside_options(args)
        )


@pytest.mark.parametrize("value", DASHED)
def test_the_rebalance_settings_are_never_options(scripts, value):
    settings = Settings(docs_dir=Path(value), data_dir=Path(value))
    env = {"BASKET": value, "MODE": "dry-run", "TARGET_DEFICIT": value, "MIN_ORDER_VALUE": value}
    pipeline.rebalance({**env, "REPORT_JSON": value}, settings)
    pipeline.demo(settings)
    [(_, rebalance_args), (_, demo_args)] = scripts.calls
    assert rebalance_args[-2:] == ("--", value)  # the basket, after the end of the options
    assert f"--target-deficit={value}" in rebalance_args and f"--min-order-value={value}" in rebalance_args
    assert f"--basket-root={Path(value) / 'baskets'}" in rebalance_args
    assert f"--report-json={value}" in rebalance_args
    assert [arg for arg in values_outside_options(rebalance_args) if "=" not in arg] == ["--dry-run", "--quiet"]
    assert value not in demo_args
    assert f"--report-json={Path(value) / 'logs' / 'rebalance-report.json'}" in demo_args


@pytest.mark.parametrize("value", ["-h", "--help"])
def test_the_token_file_is_never_an_option_of_kite_login(scripts, value):
    Path(value).write_text("{}")
    pipeline.kite_token({"MODE": "live", "KITE_TOKEN_FILE": value}, Settings())
    [(name, args)] = scripts.calls
    assert name == "kite_login.py" and args == (f"--import={value}", "--quiet")


def test_non_ascii_digits_are_not_a_number_of_passes(scripts):
    with pytest.raises(pipeline.StepError, match="PASSES must be a whole number"):
        pipeline.research({"PASSES": "٣"})
    assert scripts.calls == []


@pytest.mark.parametrize("basket", ["-h", "--help", "--live"])
def test_basket_dash_h_through_the_pipeline_is_refused_not_help(scratch, basket):
    done = step(scratch.checkout, "rebalance", BASKET=basket, MODE="dry-run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "usage:" not in done.stdout + done.stderr
    assert "docs/baskets" in done.stderr
    assert basket in done.stderr
    assert not (scratch.checkout / "data" / "logs" / "rebalance-report.json").exists()
