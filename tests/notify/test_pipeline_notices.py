"""What the pipeline's steps tell the owner: a failed step with its reason (at once on a laptop; in
GitHub Actions from the job's last step, the one given the secret), the rebalance result, the login
reminder from run.sh's rebalance step, and a new basket."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from cryptography.fernet import Fernet

from niftybaskets.cli import pipeline
from niftybaskets.config import load_settings

REPOSITORY = Path(__file__).resolve().parents[2]


def test_a_failed_step_on_this_machine_is_told_at_once_with_its_reason(machine, webhook, monkeypatch):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    monkeypatch.delenv("GEMINI_API_KEYS")
    assert pipeline.main(["portfolio"]) == 2
    [told] = webhook.received
    assert "portfolio" in told["title"] + told["message"]
    assert "GEMINI_API_KEYS is not set" in told["message"]


def test_in_actions_the_failure_waits_for_the_jobs_notify_step(machine, webhook, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("START", "soon")
    assert pipeline.main(["wait-market"]) == 2
    assert webhook.received == []
    noted = tmp_path / "data" / "logs" / "failed-step-local.json"
    assert json.loads(noted.read_text())["step"] == "wait-market"
    assert pipeline.main(["notify-failure"]) == 0
    [told] = webhook.received
    assert "wait-market" in told["title"] + told["message"] and "START must be market-open or now" in told["message"]
    assert not noted.exists()


def test_a_job_that_failed_outside_the_pipeline_is_still_told(machine, webhook, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_JOB", "research")
    assert pipeline.main(["notify-failure"]) == 0
    [told] = webhook.received
    assert "research" in told["title"] + told["message"]


def test_the_paper_rebalance_tells_its_result_once(machine, webhook, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "examples").mkdir()
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", tmp_path / "examples")
    baskets = tmp_path / "docs" / "baskets"
    baskets.mkdir(parents=True)
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", baskets / "b.json")
    monkeypatch.setenv("BASKET", "docs/baskets/b.json")
    monkeypatch.setenv("MODE", "paper")
    assert pipeline.main(["rebalance"]) == 0
    [told] = webhook.received
    assert "deficit" in told["message"].lower() and "ZP0001" not in told["message"]


def test_run_sh_s_rebalance_reminds_to_log_in_when_no_login_is_stored(machine, webhook, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KITE_API_KEY", "k")
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    monkeypatch.delenv("KITE_ACCESS_TOKEN")
    baskets = tmp_path / "docs" / "baskets"
    baskets.mkdir(parents=True)
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", baskets / "b.json")
    monkeypatch.setenv("BASKET", "docs/baskets/b.json")
    monkeypatch.setenv("MODE", "live")
    assert pipeline.main(["rebalance"]) == 2  # no login: nothing sent to Kite
    reminder = [item for item in webhook.received if item["title"] == "Kite login needed"]
    assert reminder and "python3 scripts/kite_login.py" in reminder[0]["message"]
    assert "--push" not in reminder[0]["message"]  # on this machine, the plain login


def test_a_new_basket_is_told_with_its_stocks(machine, webhook, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    settings = load_settings()
    folder = tmp_path / "docs" / "baskets"
    folder.mkdir(parents=True)
    stem = "NIFTY 50__Nov_28_2026_09_05__N20_K5"
    (folder / f"{stem}.json").write_text(
        json.dumps({"stocks": [{"stock_ticker": "SBIN", "weight": 0.6}, {"stock_ticker": "INFY", "weight": 0.4}]})
    )
    monkeypatch.setenv("INDEX", "NIFTY 50")
    assert pipeline.run_step("notify-published", settings) == 0
    [told] = webhook.received
    assert "SBIN" in told["message"] and "INFY" in told["message"]


def test_a_bad_notification_setting_never_stops_a_rebalance(machine, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("NOTIFY_URLS", "tgram://123456789:SECRETBOTTOKEN/42 not-a-url")
    monkeypatch.setenv("NOTIFY_LEVEL", "loud")
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "examples").mkdir()
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", tmp_path / "examples")
    assert pipeline.main(["demo"]) == 0
    baskets = tmp_path / "docs" / "baskets"
    baskets.mkdir(parents=True)
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", baskets / "b.json")
    monkeypatch.setenv("BASKET", "docs/baskets/b.json")
    monkeypatch.setenv("MODE", "paper")
    assert pipeline.main(["rebalance"]) == 0
    err = capsys.readouterr().err
    assert "warning: NOTIFY_URLS: URL #2 is not an apprise URL" in err and "warning: NOTIFY_LEVEL" in err
    assert "SECRETBOTTOKEN" not in err


def test_a_rebalance_that_told_its_result_is_not_told_again_as_a_failure(machine, webhook, monkeypatch, tmp_path):
    monkeypatch.setenv("NOTIFY_URLS", webhook.url)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    settings = load_settings()
    pipeline.note_failure("rebalance", "orders were refused", settings, {"GITHUB_ACTIONS": "true"}, told=True)
    assert pipeline.main(["notify-failure"]) == 0
    assert webhook.received == []
    assert not list((tmp_path / "data" / "logs").glob("failed-step-*.json"))
