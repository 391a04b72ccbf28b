"""Runs a workflow job's steps the way a GitHub runner does, on this machine, for the tests.

The `run:` steps run in bash (GitHub's `bash -eo pipefail`) in a checkout, with the job's `env:`
evaluated and GITHUB_OUTPUT, GITHUB_STEP_SUMMARY and friends set. Each `uses:` step is played by a
stand-in below that does what the action would do here (keep an artifact, note a deployment).
Expressions are limited to what our workflows use (`a.b || 'text'`); anything else fails loudly,
so the YAML cannot quietly grow logic the tests do not run.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TERM = re.compile(r"^(?:'(?P<text>[^']*)'|(?P<path>[A-Za-z_][\w-]*(?:\.[\w-]+)*))$")
SETUP = "scripts/setup_venv.sh"


class Unsupported(AssertionError):
    """The workflow uses something this stand-in runner does not model."""


def evaluate(text: str, context: dict) -> str:
    def value(match: re.Match) -> str:
        result = ""
        for term in match[1].split("||"):
            parsed = TERM.match(term.strip())
            if parsed is None:
                raise Unsupported(f"expression not modelled: {match[0]}")
            if parsed["text"] is not None:
                result = parsed["text"]
            else:
                result = context
                for part in parsed["path"].split("."):
                    result = result.get(part, "") if isinstance(result, dict) else ""
                result = str(result) if result not in (None, "") else ""
            if result:
                return result
        return result

    return EXPRESSION.sub(value, str(text))


def load(workflow: Path) -> dict:
    return yaml.safe_load(workflow.read_text(encoding="utf-8"))


@dataclass
class StepResult:
    name: str
    status: int | None  # None: skipped
    output: str = ""


@dataclass
class JobResult:
    steps: list[StepResult]
    outputs: dict[str, str]
    summary: str
    artifacts: dict[str, dict[str, bytes]]

    @property
    def ok(self) -> bool:
        """No step failed: a step skipped (None) follows a failure, or waits for one (if: failure())."""
        return all(step.status in (0, None) for step in self.steps)

    def step(self, name: str) -> StepResult:
        return next(step for step in self.steps if step.name == name)

    @property
    def log(self) -> str:
        return "\n".join(f"--- {step.name} ({step.status})\n{step.output}" for step in self.steps)


@dataclass
class Runner:
    """`context` holds inputs, secrets, vars, github and needs; `env` is the runner host's environment."""

    checkout: Path
    context: dict
    env: dict[str, str]
    deployments: list[str] = field(default_factory=list)
    pages: list[Path] = field(default_factory=list)

    def run_job(self, workflow: Path, job_name: str) -> JobResult:
        data = load(workflow)
        job = data["jobs"][job_name]
        context = {**self.context, "steps": {}}
        env = {**self.env, "GITHUB_ACTIONS": "true", "CI": "true"}
        github = self.context.get("github") or {}
        for name in ("repository", "api_url", "ref_name", "run_id"):  # what a runner sets for every step
            env[f"GITHUB_{name.upper()}"] = github.get(name, "")
        env["GITHUB_WORKSPACE"] = str(self.checkout)
        summary_file = self.checkout.parent / f"summary-{job_name}.md"
        summary_file.write_text("")
        env["GITHUB_STEP_SUMMARY"] = str(summary_file)
        for scope in (data.get("env") or {}, job.get("env") or {}):
            env.update({name: evaluate(value, context) for name, value in scope.items()})
        results: list[StepResult] = []
        artifacts: dict[str, dict[str, bytes]] = {}
        failed = False
        for number, step in enumerate(job["steps"]):
            name = step.get("name") or step.get("uses") or step["run"]
            condition = step.get("if")
            if condition not in (None, "always()", "failure()"):
                raise Unsupported(f"step condition not modelled: {condition}")
            # GitHub's status functions: none runs only while all went well, failure() only after a failure.
            runs = {None: not failed, "always()": True, "failure()": failed}[condition]
            if not runs:
                results.append(StepResult(name, None))
                continue
            output_file = self.checkout.parent / f"output-{job_name}-{number}"
            output_file.write_text("")
            step_env = {
                **env,
                **{key: evaluate(value, context) for key, value in (step.get("env") or {}).items()},
                "GITHUB_OUTPUT": str(output_file),
            }
            if "run" in step:
                result = self._run(name, step["run"], step_env)
            else:
                result = self._use(name, step, context, step_env, artifacts)
            results.append(result)
            failed = failed or result.status != 0
            if step.get("id"):
                context["steps"][step["id"]] = {"outputs": read_outputs(output_file)}
        outputs = {key: evaluate(value, context) for key, value in (job.get("outputs") or {}).items()}
        return JobResult(results, outputs, summary_file.read_text(), artifacts)

    def _run(self, name: str, command: str, env: dict[str, str]) -> StepResult:
        if EXPRESSION.search(command):
            raise Unsupported(f"an expression inside run: {command}")
        if command.strip() == SETUP:
            # The test command made .venv already (a second install would re-point it at this checkout).
            assert (self.checkout / ".venv" / "bin" / "python").exists()
            return StepResult(name, 0, "(the test's .venv stands in for the install)")
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
            cwd=self.checkout,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return StepResult(name, done.returncode, done.stdout + done.stderr)

    def _use(self, name: str, step: dict, context: dict, env: dict, artifacts: dict) -> StepResult:
        action = step["uses"].split("@")[0]
        options = {key: evaluate(value, context) for key, value in (step.get("with") or {}).items()}
        stand_in: Callable[[dict, dict], str] | None = {
            "actions/checkout": self._checkout,
            "actions/setup-python": lambda options, artifacts: "python is the test's",
            "actions/upload-artifact": self._upload_artifact,
            "actions/upload-pages-artifact": self._upload_pages,
            "actions/deploy-pages": self._deploy_pages,
        }.get(action)
        if stand_in is None:
            raise Unsupported(f"action not modelled: {action}")
        try:
            output = stand_in(options, artifacts)
        except AssertionError as error:
            return StepResult(name, 1, str(error))
        if action == "actions/deploy-pages":
            Path(env["GITHUB_OUTPUT"]).write_text(f"page_url={output}\n")
        return StepResult(name, 0, output)

    def _checkout(self, options: dict, artifacts: dict) -> str:
        assert (self.checkout / ".git").is_dir(), "the checkout is not a git clone"
        return "checked out"

    def _upload_artifact(self, options: dict, artifacts: dict) -> str:
        files = sorted(Path(path) for path in glob.glob(str(self.checkout / options["path"])) if Path(path).is_file())
        if not files and options.get("if-no-files-found") == "error":
            raise AssertionError(f"no files at {options['path']}")
        artifacts[options["name"]] = {path.name: path.read_bytes() for path in files}
        return f"kept {len(files)} files as {options['name']}"

    def _upload_pages(self, options: dict, artifacts: dict) -> str:
        site = self.checkout / options["path"]
        assert (site / "index.html").is_file(), f"{site} has no index.html"
        self.pages.append(site)
        return f"site at {site}"

    def _deploy_pages(self, options: dict, artifacts: dict) -> str:
        assert self.pages, "nothing was uploaded for Pages"
        self.deployments.append(str(self.pages[-1]))
        return "https://owner.github.io/niftybaskets/"


def read_outputs(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return dict(pairs)


def clean_environment() -> dict[str, str]:
    """This machine's environment without settings that would leak into the job under test."""
    prefixes = ("GEMINI_", "NSE_", "KITE_", "DATA_", "DOCS_", "GITHUB_", "GH_", "ENCRYPTION_", "PYTEST_")
    return {key: value for key, value in os.environ.items() if not key.startswith(prefixes)}
