"""What a run leaves on the machine is this user's only, and holds no plain secret: `./run.sh demo`
with the real Kite app's settings exported, as a user who keeps them in the shell would run it."""

from __future__ import annotations

import stat

import pytest

from tests.workflows.test_run_sh import installed_already, run_sh

SECRET = "real-kite-secret-51d0e2"

pytestmark = pytest.mark.skipif(not installed_already(), reason="run ./test.sh once: it sets up .venv")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_demos_logs_and_databases_are_private_and_hold_no_secret(scratch):
    done = run_sh(scratch.checkout, "demo", KITE_API_KEY="realkey", KITE_API_SECRET=SECRET)
    assert done.returncode == 0, done.stdout + done.stderr
    data = scratch.checkout / "data"
    log = data / "logs" / "20261123T031500Z_NIFTY_SMALLCAP_250_demo.log"
    assert log.read_text().strip()
    assert mode(data / "logs") == 0o700 and mode(log) == 0o600
    databases = list(data.rglob("*.sqlite"))
    assert databases and all(mode(path) == 0o600 for path in databases)
    assert [path for path in data.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()] == []
