"""A setting that starts with `-` stays a value (issue 12, item 11b): `BASKET=-h` through
`pipeline.py rebalance` printed the rebalancer's help and exited 0 with nothing done.

Every environment variable the pipeline hands to a script travels as `--name=value`, or after `--`
for the rebalancer's basket, so argparse can never read it as an option: each script here reads the
value, then stops at what it lacks, instead of printing its usage.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from niftybaskets.cli import pipeline
from niftybaskets.config import Settings
from tests.workflows.test_pipeline_steps import step

REPOSITORY = Path(__file__).resolve().parents[2]
DASHED = ["-h", "--help", "--live", "-k"]


@pytest.fixture
def bare(monkeypatch, tmp_path):
    """No keys and no .env: each script stops at its first missing setting, after reading its options."""
    monkeypatch.chdir(tmp_path)
    for name in ("GEMINI_API_KEYS", "GEMINI_API_KEY", "KITE_API_KEY", "KITE_API_SECRET", "ENCRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))


def read_as_options(output: str) -> bool:
    """What argparse says when a value was taken for an option: its help, or a complaint about options."""
    return any(sign in output for sign in ("show this help message", "unrecognized arguments", "expected one argument"))


@pytest.mark.parametrize("value", DASHED)
def test_the_index_is_never_an_option_of_the_research_scripts(bare, capsys, value):
    assert pipeline.research({"INDEX": value, "PASSES": "1"}) == 2
    assert pipeline.portfolio({"INDEX": value}, Settings()) == 2
    out, err = capsys.readouterr()
    assert not read_as_options(out + err)
    assert err.count("GEMINI_API_KEYS is not set") == 2  # both read the index as a value, then wanted keys


@pytest.mark.parametrize("value", DASHED)
def test_the_rebalance_settings_are_never_options(bare, capsys, value):
    settings = Settings(docs_dir=Path("docs"), data_dir=Path("data"))
    env = {"BASKET": "docs/baskets/x.json", "MODE": "dry-run", "TARGET_DEFICIT": value, "REPORT_JSON": "r.json"}
    assert pipeline.rebalance(env, settings) == 2
    out, err = capsys.readouterr()
    assert not read_as_options(out + err) and f"{value!r} is not a number of rupees" in err


def test_a_dashed_data_dir_is_a_folder_for_the_demo(bare, capsys, tmp_path):
    (tmp_path / "examples").mkdir()
    shutil.copy(REPOSITORY / "examples" / "sample_basket.json", tmp_path / "examples")
    assert pipeline.demo(Settings(data_dir=Path("-h"))) == 0
    assert (tmp_path / "-h" / "logs" / "rebalance-report.json").is_file()
    assert not read_as_options(capsys.readouterr().out)


@pytest.mark.parametrize("value", ["-h", "--help"])
def test_the_token_file_is_never_an_option_of_kite_login(bare, capsys, value):
    Path(value).write_text("{}")
    assert pipeline.kite_token({"MODE": "live", "KITE_TOKEN_FILE": value}, Settings()) == 2
    out, err = capsys.readouterr()
    assert not read_as_options(out + err) and "KITE_API_KEY is not set" in err


def test_non_ascii_digits_are_not_a_number_of_passes(bare):
    with pytest.raises(pipeline.StepError, match="PASSES must be a whole number"):
        pipeline.research({"PASSES": "٣"})


@pytest.mark.parametrize("basket", ["-h", "--help", "--live"])
def test_basket_dash_h_through_the_pipeline_is_refused_not_help(scratch, basket):
    done = step(scratch.checkout, "rebalance", BASKET=basket, MODE="dry-run")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "usage:" not in done.stdout + done.stderr
    assert "docs/baskets" in done.stderr
    assert basket in done.stderr
    assert not (scratch.checkout / "data" / "logs" / "rebalance-report.json").exists()
