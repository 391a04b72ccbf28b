"""The scripts as a user runs them, as programs: the paper exchange serves and stops cleanly on Ctrl-C."""

import re
import signal
import subprocess
import sys
from pathlib import Path

from niftybaskets.paper.embedded import login

REPOSITORY = Path(__file__).resolve().parents[1]


def test_the_exchange_serves_the_sdk_and_stops_cleanly_on_ctrl_c(tmp_path):
    account = tmp_path / "account.yaml"
    account.write_text("api_key: k\napi_secret: s\ncash: 1000\nrules: {market_hours: false}\n")
    process = subprocess.Popen(
        [
            sys.executable,
            str(REPOSITORY / "scripts" / "paper_exchange.py"),
            "--port",
            "0",
            "--paper-account",
            str(account),
            "--db",
            str(tmp_path / "paper.sqlite"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPOSITORY,
    )
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if "listening on" in line:
                break
        url = re.search(r"listening on (http://\S+)", "".join(lines)).group(1)
        assert "seeded from the account file" in "".join(lines)
        assert login(url, "k", "s").margins("equity")["net"] == 1000
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 130
    assert err.endswith("paper exchange stopped.\n")
    assert "Traceback" not in err and "CancelledError" not in err
    assert " s\n" not in "".join(lines) + out  # the secret is never echoed
