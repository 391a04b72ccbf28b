"""A base URL that is not an http(s) URL with a host is a bad setting: exit 2 naming the variable,
before anything is asked of anyone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from niftybaskets.config import ConfigError, Settings, load_settings
from tests.workflows.runner import clean_environment

REPOSITORY = Path(__file__).resolve().parents[1]
URL_VARIABLES = (
    "KITE_API_ROOT",
    "NSE_BASE_URL",
    "NIFTY_INDICES_BASE_URL",
    "YAHOO_BASE_URL",
    "GEMINI_BASE_URL",
    "GITHUB_API_URL",
)


def test_kite_api_root_notaurl_exits_2_naming_it_and_sends_nothing(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "rebalance_portfolio.py"), "basket.json", "--live", "--quiet"],
        env={**clean_environment(), "DATA_DIR": str(tmp_path / "data"), "KITE_API_ROOT": "notaurl"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "KITE_API_ROOT" in result.stderr and "'notaurl'" in result.stderr
    assert "https://api.kite.trade" in result.stderr  # the form expected
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", URL_VARIABLES)
@pytest.mark.parametrize("value", ["notaurl", "ftp://example.com", "http://", "https://host:99999", "http://a b"])
def test_every_base_url_is_checked(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        load_settings()


def test_good_urls_pass_and_empty_ones_are_the_defaults(monkeypatch):
    monkeypatch.setenv("KITE_API_ROOT", " http://127.0.0.1:8765 ")
    monkeypatch.setenv("NSE_BASE_URL", "")
    monkeypatch.setenv("GEMINI_BASE_URL", "")
    settings = load_settings()
    assert settings.kite_api_root == "http://127.0.0.1:8765"
    assert settings.nse_base_url == Settings.model_fields["nse_base_url"].default
    assert settings.gemini_base_url == ""
