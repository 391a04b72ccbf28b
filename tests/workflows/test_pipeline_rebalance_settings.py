"""The rebalance step hands COST_WEIGHT, DRIFT_BAND, CAPITAL and KEEP (run.sh's environment, the
workflow's inputs and variables) to the rebalancer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from niftybaskets.cli import pipeline

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("NOTIFY_URLS", "KITE_API_KEY", "ENCRYPTION_KEY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    baskets = tmp_path / "docs" / "baskets"
    baskets.mkdir(parents=True)
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", baskets / "b.json")
    return tmp_path


def test_capital_and_keep_reach_the_rebalancer(checkout, monkeypatch):
    env = {"BASKET": "docs/baskets/b.json", "MODE": "paper", "CAPITAL": "200000", "KEEP": "IRCTC"}
    for name, value in {**env, "REPORT_JSON": "report.json"}.items():
        monkeypatch.setenv(name, value)
    assert pipeline.main(["rebalance"]) == 0
    report = json.loads((checkout / "report.json").read_text())
    assert sum(stock["target_value"] for stock in report["stocks"]) == pytest.approx(200000, abs=1)
    assert "IRCTC" not in {stock["symbol"] for stock in report["stocks"]}


def test_a_drift_band_that_is_not_a_percentage_is_refused(checkout, monkeypatch, capsys):
    for name, value in {"BASKET": "docs/baskets/b.json", "MODE": "paper", "DRIFT_BAND": "150"}.items():
        monkeypatch.setenv(name, value)
    assert pipeline.main(["rebalance"]) == 2
    assert "not a percentage from 0 to 100" in capsys.readouterr().err
