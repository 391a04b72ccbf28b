"""What every script shares: --version, --help naming the environment it reads, and one exit code
for each way a run ends (README: 0 done, 1 failed at run time, 2 bad input, 130 Ctrl-C)."""

import argparse
import importlib
import pkgutil

import pytest

import niftybaskets.cli
from niftybaskets.cli.common import ENVIRONMENT, package_version, run, script_parser
from niftybaskets.config import ConfigError
from niftybaskets.errors import NiftyError

SCRIPTS = sorted(
    module.name
    for module in pkgutil.iter_modules(niftybaskets.cli.__path__)
    if module.name != "common" and hasattr(importlib.import_module(f"niftybaskets.cli.{module.name}"), "main")
)


def test_every_script_has_its_application_module():
    from pathlib import Path

    shims = {path.stem for path in (Path(__file__).resolve().parents[1] / "scripts").glob("*.py")}
    assert shims == set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_answers_version_and_help_with_its_environment(name, capsys):
    main = importlib.import_module(f"niftybaskets.cli.{name}").main
    assert main(["--version"]) == 0
    assert f"niftybaskets {package_version()}" in capsys.readouterr().out
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "example" in shown
    assert "environment: none read." in shown or (
        "environment (also read from .env):" in shown and any(variable in shown for variable in ENVIRONMENT)
    )
    assert "exit codes: 0 done, 1 failed at run time, 2 bad input or configuration, 130" in shown


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_refuses_an_unknown_option_with_2(name, capsys):
    main = importlib.import_module(f"niftybaskets.cli.{name}").main
    assert main(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage:") and "error:" in err


def parser() -> argparse.ArgumentParser:
    return script_parser("A test script.", environment=["DATA_DIR"], examples=["python3 scripts/x.py"])


@pytest.mark.parametrize(
    ("raised", "code", "said"),
    [
        (ConfigError("DATA_DIR is not a folder: set it to one"), 2, "error: DATA_DIR is not a folder: set it to one"),
        (NiftyError("Kite did not answer: run again"), 1, "error: Kite did not answer: run again"),
        (KeyboardInterrupt(), 130, "stopped by you"),
        (ZeroDivisionError("division by zero"), 1, "unexpected ZeroDivisionError: division by zero"),
    ],
)
def test_each_way_of_ending_has_one_exit_code_and_message(raised, code, said, capsys):
    def body(args: argparse.Namespace) -> int:
        raise raised

    assert run(parser(), [], body, cancelled="stopped by you") == code
    err = capsys.readouterr().err
    assert said in err and "Traceback" not in err


def test_a_bug_shows_its_trace_with_verbose(capsys):
    def body(args: argparse.Namespace) -> int:
        return 1 // 0

    assert run(parser(), ["-v"], body) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "with the trace above" in err
