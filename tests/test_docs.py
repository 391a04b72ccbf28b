"""The READMEs stay true: every command in their code blocks is run by a named test (or by .ci/run),
and every option they give a script is one the script has."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "README_REBALANCING.md")
CI = ".ci/run"  # runs ./test.sh on a clean clone

# Each documented command, and where it is exercised. Shell set-up lines (source, export) are
# exercised by the commands after them.
EXERCISED = {
    "./run.sh demo": ["tests/workflows/test_run_sh.py::test_run_sh_demo_rebalances_the_sample_basket_on_paper_offline"],
    "./test.sh": [CI],
    "./run.sh": [
        "tests/workflows/test_run_sh.py::test_run_sh_stops_at_the_first_failed_step_and_names_its_log",
        "tests/workflows/test_run_sh.py::test_run_sh_refuses_a_bad_setting_or_argument_before_doing_anything",
    ],
    "LIVE_REBALANCE=0 ./run.sh": [
        "tests/workflows/test_run_sh.py::test_run_sh_researches_publishes_pushes_and_rebalances_logging_each_step"
    ],
    "python3 scripts/kite_login.py --push": [
        "tests/workflows/test_workflow_steps.py::test_the_morning_token_travels_encrypted_to_the_rebalance_job",
        "tests/workflows/test_pipeline_steps.py::test_push_without_a_github_token_says_so_before_any_login",
    ],
    'python3 scripts/analyze_stocks.py -i "NIFTY SMALLCAP 250" -p -w 10 -fl': [
        "tests/research/test_research_scripts.py::test_analyze_then_generate",
        "tests/workflows/test_run_sh.py::test_run_sh_researches_publishes_pushes_and_rebalances_logging_each_step",
    ],
    'python3 scripts/generate_portfolio.py -i "NIFTY SMALLCAP 250" -n 50 -k 10': [
        "tests/research/test_research_scripts.py::test_analyze_then_generate"
    ],
    "python3 scripts/score_ledger.py": [
        "tests/ledger/test_score_script.py::test_score_ledger_writes_the_page_then_finds_nothing_new"
    ],
    'python3 scripts/score_ledger.py --index "NIFTY SMALLCAP 250" --entry close': [
        "tests/ledger/test_score_script.py::test_score_ledger_writes_the_page_then_finds_nothing_new",
        "tests/ledger/test_ledger.py::test_the_close_entry_buys_at_the_first_sessions_close",
    ],
    "python3 scripts/paper_exchange.py": [
        "tests/test_scripts.py::test_the_exchange_serves_the_sdk_and_stops_cleanly_on_ctrl_c"
    ],
    "python3 scripts/paper_exchange.py &": [
        "tests/test_scripts.py::test_the_exchange_serves_the_sdk_and_stops_cleanly_on_ctrl_c"
    ],
    'curl -X POST localhost:8765/admin/prices -d \'{"IEX": 190.5, "CAMS": {"last_price": 3900, '
    '"lower_circuit": 3510, "upper_circuit": 4290}}\'': ["tests/paper/test_orders.py", "tests/paper/test_envelopes.py"],
    'curl -X POST localhost:8765/admin/faults -d \'{"endpoint": "POST /orders/regular", "status": 502, '
    '"when": "after"}\'': [
        "tests/paper/test_faults.py::test_an_order_placed_whose_answer_is_lost_is_in_the_order_book"
    ],
    "curl localhost:8765/admin/faults": [
        "tests/paper/test_faults.py::test_faults_can_target_any_endpoint_and_be_listed_and_cleared"
    ],
    "curl -X POST localhost:8765/admin/accounts/ZP0001/authorise -d '{\"CDSL\": 60}'": ["tests/paper/test_orders.py"],
    "curl -X POST localhost:8765/admin/accounts/ZP0001/expire-sessions": ["tests/paper/test_login.py"],
    'python3 -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"': [
        "tests/test_encryption.py::test_tokens_round_trip_and_another_key_cannot_read_them"
    ],
    "python3 scripts/kite_login.py": ["tests/kite/test_kite_login_script.py::test_the_daily_login_end_to_end"],
    "python3 scripts/doctor.py": [
        "tests/test_doctor.py::test_everything_answers_every_line_passes_and_exit_0",
        "tests/test_doctor.py::test_the_script_runs_as_a_program",
    ],
    "python3 scripts/doctor.py --only nse,niftyindices,yahoo,gemini": [
        "tests/test_doctor.py::test_nse_down_while_nse_indices_and_yahoo_answer_still_exits_0",
        "tests/test_doctor.py::test_no_source_of_index_lists_exits_1",
    ],
    "python3 scripts/doctor.py --json": ["tests/test_doctor.py::test_json_is_one_document_with_every_check"],
    "python3 scripts/notify.py --test": [
        "tests/notify/test_notify_script.py::test_test_reaches_every_channel_and_exits_0",
        "tests/notify/test_notify_script.py::test_the_script_runs_as_a_program",
    ],
    "python3 scripts/kite_login.py --export kite-token.json": [
        "tests/kite/test_kite_login_script.py::test_export_logs_in_first_when_nobody_is",
        "tests/workflows/test_workflow_steps.py::test_a_token_file_on_the_runner_host_is_used_without_github",
    ],
    "python3 scripts/kite_login.py --import kite-token.json": [
        "tests/kite/test_kite_login_script.py::test_export_list_and_import_on_another_machine"
    ],
    "python3 scripts/rebalance_portfolio.py examples/sample_basket.json": [
        "tests/rebalance/test_rebalance_script.py::test_a_dry_run_reads_the_real_account_and_sends_nothing"
    ],
    "python3 scripts/rebalance_portfolio.py BASKET.json --live": [
        "tests/rebalance/test_rebalance_script.py::test_live_asks_for_confirm_and_stops_without_it"
    ],
    "python3 scripts/rebalance_portfolio.py BASKET.json --live --quiet --report-json report.json": [
        "tests/rebalance/test_rebalance_script.py::test_all_users_rebalances_each_logged_in_account",
        "tests/rebalance/test_rebalance_script.py::test_a_paper_run_reports_to_console_json_job_summary_and_audit",
    ],
}
SET_UP = ("source ", "export ")


def documented_commands() -> list[str]:
    commands = []
    for name in DOCS:
        text = (REPOSITORY / name).read_text(encoding="utf-8")
        for block in re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.DOTALL):
            for line in block.splitlines():
                command = re.sub(r"\s+#\s.*$", "", line).strip()
                if command and not command.startswith(SET_UP):
                    commands.append(command)
    return commands


def test_every_documented_command_is_exercised_by_a_named_test():
    missing = sorted(set(documented_commands()) - set(EXERCISED))
    assert not missing, "add these commands to EXERCISED with the tests that run them:\n" + "\n".join(missing)
    stale = sorted(set(EXERCISED) - set(documented_commands()))
    assert not stale, "no longer in the docs: " + ", ".join(stale)


def test_the_tests_named_for_the_commands_exist():
    for places in EXERCISED.values():
        for place in places:
            path, _, test = place.partition("::")
            assert (REPOSITORY / path).is_file(), place
            if test:
                assert re.search(rf"^def {test}\(", (REPOSITORY / path).read_text(), re.MULTILINE), place


def script_options() -> list[tuple[str, str]]:
    """(script, option) for every option the docs give one of our Python scripts."""
    pairs = set()
    for command in documented_commands():
        words = shlex.split(command.rstrip("&"))
        for position, word in enumerate(words):
            if word.startswith("scripts/") and word.endswith(".py"):
                pairs |= {(word, option) for option in words[position + 1 :] if option.startswith("-")}
    return sorted(pairs)


@cache
def help_of(script: str) -> str:
    shown = subprocess.run(
        [sys.executable, str(REPOSITORY / script), "--help"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    return shown.stdout


@pytest.mark.parametrize(("script", "option"), script_options())
def test_every_option_the_docs_give_a_script_is_in_its_help(script, option):
    assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", help_of(script)), f"{script} has no {option}"
