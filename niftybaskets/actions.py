"""Talking back to GitHub Actions from a step: step outputs, the job summary, masked values.

Outside GitHub Actions (run.sh, a terminal) these do nothing, so every script can call them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping


def in_actions(env: Mapping[str, str] = os.environ) -> bool:
    return env.get("GITHUB_ACTIONS") == "true"


def _append(variable: str, text: str, env: Mapping[str, str]) -> None:
    path = env.get(variable)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(text if text.endswith("\n") else text + "\n")


def set_output(name: str, value: str, env: Mapping[str, str] = os.environ) -> None:
    """A step output (`steps.<id>.outputs.<name>`); one line only."""
    if "\n" in value or "\r" in value:
        raise ValueError(f"the step output {name} must be one line")
    _append("GITHUB_OUTPUT", f"{name}={value}", env)


def add_summary(markdown: str, env: Mapping[str, str] = os.environ) -> None:
    """Markdown for the run's summary page."""
    _append("GITHUB_STEP_SUMMARY", markdown, env)


def mask(secret: str, env: Mapping[str, str] = os.environ) -> None:
    """Have GitHub Actions hide `secret` in every later line of the job's log.

    The runner swallows this command line itself; it never reaches the log. Step output that is
    also copied to a file (run.sh's logs) must not carry it, so only the token import calls this.
    """
    if secret and in_actions(env):
        print(f"::add-mask::{secret}", flush=True)
