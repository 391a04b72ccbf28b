"""The few GitHub REST API calls the automation needs: dispatch a workflow, fetch an artifact."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import requests

from niftybaskets.config import ConfigError, Settings
from niftybaskets.errors import NiftyError

# The token hand-over: kite_login.py --push runs this workflow, which keeps the file as this artifact.
TOKEN_WORKFLOW = "kite-token.yml"  # noqa: S105 - names, not secrets
TOKEN_ARTIFACT = "kite-token"  # noqa: S105
TOKEN_FILE_NAME = "kite-token.json"  # noqa: S105
RESEARCH_WORKFLOW = "research.yml"
PRICE_CACHE_ARTIFACT = "price-cache"
REMOTE = re.compile(r"github\.com[:/](?P<repository>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")


class GitHubError(NiftyError):
    """GitHub refused or failed; the message says what to check."""


def repository_from_git(folder: Path) -> str | None:
    """owner/name from the `origin` remote of the git checkout at `folder`, if it is on GitHub."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        url = subprocess.run(  # noqa: S603 - a fixed git command
            [git, "remote", "get-url", "origin"], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    match = REMOTE.search(url)
    return match["repository"] if match else None


class GitHub:
    def __init__(self, token: str, repository: str, api_url: str, timeout: float = 30) -> None:
        if not token:
            raise ConfigError(
                "no GitHub token: set GITHUB_TOKEN or GH_TOKEN to a token of your fork that may run workflows "
                "(a fine-grained token with Actions: read and write)"
            )
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository or ""):
            raise ConfigError("no repository: set GITHUB_REPOSITORY=owner/name, or run inside a clone of your fork")
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
            }
        )

    def _call(self, method: str, url: str, what: str, **options: object) -> requests.Response:
        try:
            response = self.session.request(method, url, timeout=self.timeout, **options)
        except requests.RequestException as error:
            raise GitHubError(f"could not reach GitHub to {what}: {type(error).__name__}") from None
        if response.status_code >= 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            hint = (
                " (check that the token may use the repository's Actions)"
                if response.status_code in (401, 403, 404)
                else ""
            )
            raise GitHubError(f"GitHub refused to {what}: HTTP {response.status_code} {message}{hint}")
        return response

    def _repo_url(self, path: str = "") -> str:
        return f"{self.api_url}/repos/{self.repository}{path}"

    @classmethod
    def from_settings(cls, settings: Settings, folder: Path) -> GitHub:
        """GITHUB_TOKEN (or GH_TOKEN), GITHUB_REPOSITORY (else the git remote of `folder`), GITHUB_API_URL."""
        return cls(
            settings.github_token.get_secret_value() or settings.gh_token.get_secret_value(),
            settings.github_repository or repository_from_git(folder) or "",
            settings.github_api_url,
        )

    def default_branch(self) -> str:
        return self._call("GET", self._repo_url(), f"read {self.repository}").json()["default_branch"]

    def dispatch(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        url = self._repo_url(f"/actions/workflows/{workflow}/dispatches")
        self._call("POST", url, f"run {workflow} in {self.repository}", json={"ref": ref, "inputs": inputs})

    def latest_artifact(
        self,
        workflow: str,
        name: str,
        branch: str,
        events: tuple[str, ...] = ("workflow_dispatch",),
        status: str = "success",
    ) -> dict | None:
        """The artifact `name` of the newest run of `workflow` on `branch` with `status` that was
        started by one of `events` (by default by hand or through the API: someone with write access),
        or None.

        A pull request's run never counts: even of a copy of `workflow` it edited, it can upload an
        artifact of any name.
        """
        runs = []
        for event in events:
            answer = self._call(
                "GET",
                self._repo_url(f"/actions/workflows/{workflow}/runs"),
                f"list the runs of {workflow}",
                params={"status": status, "event": event, "branch": branch, "per_page": 10},
            ).json()
            runs += answer.get("workflow_runs", [])
        trusted = [
            run
            for run in runs
            if run.get("event") in events
            and run.get("head_branch") == branch
            and (run.get("head_repository") or {}).get("full_name") == self.repository
        ]
        for run in sorted(trusted, key=lambda run: run.get("created_at", ""), reverse=True):
            listing = self._call(
                "GET", self._repo_url(f"/actions/runs/{run['id']}/artifacts"), "list artifacts", params={"name": name}
            ).json()
            artifacts = [a for a in listing.get("artifacts", []) if a.get("name") == name and not a.get("expired")]
            if artifacts:
                return artifacts[0]
        return None

    def download_file(self, artifact: dict, file_name: str, max_bytes: int) -> bytes:
        """One file, of at most `max_bytes`, out of an artifact's zip."""
        response = self._call("GET", artifact["archive_download_url"], "download the artifact")
        try:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                if archive.getinfo(file_name).file_size > max_bytes:
                    raise GitHubError(f"{file_name} in the artifact {artifact.get('name')} is too large")
                return archive.read(file_name)
        except (zipfile.BadZipFile, KeyError):
            raise GitHubError(f"the artifact {artifact.get('name')} holds no {file_name}") from None
