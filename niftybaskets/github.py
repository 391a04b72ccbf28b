"""The few GitHub REST API calls the automation needs: dispatch a workflow, fetch an artifact."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import requests

DEFAULT_API_URL = "https://api.github.com"
REMOTE = re.compile(r"github\.com[:/](?P<repository>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")


class GitHubError(RuntimeError):
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
    def __init__(self, token: str, repository: str, api_url: str = DEFAULT_API_URL, timeout: float = 30) -> None:
        if not token:
            raise GitHubError("no GitHub token: set GITHUB_TOKEN or GH_TOKEN (a token allowed to run workflows)")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository or ""):
            raise GitHubError("no repository: set GITHUB_REPOSITORY=owner/name, or run inside a clone of the fork")
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

    def _check(self, response: requests.Response, what: str) -> requests.Response:
        if response.status_code >= 400:
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            hint = (
                " (check the token's access to the repository and its Actions)"
                if response.status_code in (401, 403, 404)
                else ""
            )
            raise GitHubError(f"GitHub refused to {what}: HTTP {response.status_code} {message}{hint}")
        return response

    def dispatch(self, workflow: str, ref: str, inputs: dict[str, str]) -> None:
        url = f"{self.api_url}/repos/{self.repository}/actions/workflows/{workflow}/dispatches"
        response = self.session.post(url, json={"ref": ref, "inputs": inputs}, timeout=self.timeout)
        self._check(response, f"run {workflow}")

    def latest_artifact(self, name: str) -> dict | None:
        """The newest unexpired artifact of that name, or None."""
        url = f"{self.api_url}/repos/{self.repository}/actions/artifacts"
        response = self._check(
            self.session.get(url, params={"name": name, "per_page": 20}, timeout=self.timeout), "list artifacts"
        )
        artifacts = [a for a in response.json().get("artifacts", []) if not a.get("expired")]
        return max(artifacts, key=lambda a: a.get("created_at", ""), default=None)

    def download_file(self, artifact: dict, file_name: str) -> bytes:
        """One file out of an artifact's zip."""
        response = self._check(
            self.session.get(artifact["archive_download_url"], timeout=self.timeout), "download the artifact"
        )
        try:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                return archive.read(file_name)
        except (zipfile.BadZipFile, KeyError):
            raise GitHubError(f"the artifact {artifact.get('name')} holds no {file_name}") from None
