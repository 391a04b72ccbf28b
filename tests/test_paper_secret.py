"""The real Kite API secret never reaches the paper exchange's database, and the files a run leaves
under DATA_DIR are this user's only (they hold encrypted tokens, account data and orders)."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

from niftybaskets.paper.account_file import parse_account_file
from tests.workflows.runner import clean_environment

REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE = REPOSITORY / "examples" / "sample_basket.json"
SECRET = "real-kite-secret-7f3a9c"  # what the user exported for kite_login.py


def paper_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            str(REPOSITORY / "scripts" / "rebalance_portfolio.py"),
            str(SAMPLE),
            "--paper",
            "--quiet",
            *args,
        ],
        env={
            **clean_environment(),
            "DATA_DIR": str(tmp_path / "data"),
            "KITE_API_KEY": "realkey",
            "KITE_API_SECRET": SECRET,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


def files_holding_the_secret(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]


def test_a_paper_account_never_takes_the_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("KITE_API_KEY", "realkey")
    monkeypatch.setenv("KITE_API_SECRET", SECRET)
    account = parse_account_file("cash: 10\naccounts: [{user_id: ZP0002}]")
    # The API key is no secret (every login link carries it); the paper secret is fixed.
    assert [(seed.api_key, seed.api_secret) for seed in account.all_accounts()] == [("realkey", "paper")] * 2
    assert parse_account_file("api_secret: mine").api_secret == "mine"


def test_the_demo_account_on_paper_leaves_no_secret_on_disk_and_only_private_files(tmp_path):
    result = paper_run(tmp_path)  # examples/paper_account.yaml sets no api_secret
    assert result.returncode == 0, result.stderr
    data = tmp_path / "data"
    assert files_holding_the_secret(data) == []
    databases = sorted(path.name for path in data.rglob("*.sqlite"))
    assert databases == ["rebalance-audit.sqlite", "rebalance.sqlite"]
    for path in data.rglob("*"):
        if path.is_file():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((data / "paper").stat().st_mode) == 0o700


def test_a_secret_an_earlier_version_saved_is_replaced_on_the_next_run(tmp_path):
    earlier = tmp_path / "earlier.yaml"
    earlier.write_text((REPOSITORY / "examples" / "paper_account.yaml").read_text() + f"\napi_secret: {SECRET}\n")
    assert paper_run(tmp_path, "--paper-account", str(earlier)).returncode == 0
    assert files_holding_the_secret(tmp_path / "data")  # as an older version left it
    result = paper_run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert files_holding_the_secret(tmp_path / "data") == []


def test_a_family_account_file_saved_with_the_old_secret_runs_again_without_a_traceback(tmp_path):
    # The family member's account first, so that the saved account it shares the app with is checked
    # before its own credentials are brought up to date.
    sample = (REPOSITORY / "examples" / "paper_account.yaml").read_text().replace("user_id: ZP0001", "user_id: ZP0002")
    earlier, now = tmp_path / "earlier.yaml", tmp_path / "family.yaml"
    # As an older version saved it: both accounts with the secret from the environment.
    earlier.write_text(sample + f"api_secret: {SECRET}\naccounts: [{{user_id: ZP0001, api_secret: {SECRET}}}]\n")
    now.write_text(sample + "\naccounts: [{user_id: ZP0001}]\n")
    assert paper_run(tmp_path, "--paper-account", str(earlier)).returncode == 0
    result = paper_run(tmp_path, "--paper-account", str(now))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert files_holding_the_secret(tmp_path / "data") == []
