"""A fake of the GitHub REST API calls the project makes: dispatch a workflow, list its runs and
their artifacts, download an artifact's zip. Answers have GitHub's shapes and status codes."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


@dataclass
class Dispatch:
    workflow: str
    ref: str
    inputs: dict[str, str]


@dataclass
class Run:
    id: int
    workflow: str
    created_at: str
    conclusion: str = "success"
    event: str = "workflow_dispatch"
    head_branch: str = "main"
    head_repository: str = ""
    artifacts: dict[str, dict[str, bytes]] = field(default_factory=dict)  # name -> file name -> content


class FakeGitHub:
    def __init__(self, repository: str = "owner/niftybaskets", token: str = "ghp_fake") -> None:
        self.repository = repository
        self.token = token
        self.default_branch = "main"
        self.workflows = {"rebalance.yml", "kite-token.yml", "research.yml", "ci.yml"}
        self.dispatches: list[Dispatch] = []
        self.runs: list[Run] = []
        self.authorizations: list[str] = []
        self.url = ""
        self.app = self._build()

    def add_run(
        self,
        workflow: str,
        artifacts: dict[str, dict[str, bytes]],
        conclusion: str = "success",
        event: str = "workflow_dispatch",
        head_repository: str | None = None,
    ) -> Run:
        """A finished run; a pull request from a fork has event `pull_request` and the fork as head."""
        created = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%S}.{len(self.runs):06d}Z"
        run = Run(len(self.runs) + 1, workflow, created, conclusion, event, self.default_branch)
        run.head_repository = head_repository or self.repository
        run.artifacts = artifacts
        self.runs.append(run)
        return run

    def _artifact(self, run: Run, name: str) -> dict:
        number = run.id * 100 + sorted(run.artifacts).index(name)
        return {
            "id": number,
            "name": name,
            "expired": False,
            "created_at": run.created_at,
            "archive_download_url": f"{self.url}/repos/{self.repository}/actions/artifacts/{number}/zip",
            "workflow_run": {"id": run.id},
        }

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def authenticate(request: Request, call_next):
            header = request.headers.get("authorization", "")
            self.authorizations.append(header)
            if header != f"Bearer {self.token}":
                return JSONResponse({"message": "Bad credentials"}, status_code=401)
            owner_repo = "/".join(request.url.path.split("/")[2:4])
            if request.url.path.startswith("/repos/") and owner_repo != self.repository:
                return JSONResponse({"message": "Not Found"}, status_code=404)
            return await call_next(request)

        @app.get("/repos/{owner}/{repo}")
        async def repository() -> dict:
            return {"full_name": self.repository, "default_branch": self.default_branch}

        @app.post("/repos/{owner}/{repo}/actions/workflows/{workflow}/dispatches")
        async def dispatch(workflow: str, request: Request) -> Response:
            if workflow not in self.workflows:
                return JSONResponse({"message": "Not Found"}, status_code=404)
            body = await request.json()
            inputs = body.get("inputs") or {}
            if not all(isinstance(value, str) for value in inputs.values()):
                return JSONResponse({"message": "inputs must be strings"}, status_code=422)
            self.dispatches.append(Dispatch(workflow, body["ref"], inputs))
            return Response(status_code=204)

        @app.get("/repos/{owner}/{repo}/actions/workflows/{workflow}/runs")
        async def runs(workflow: str, status: str = "", event: str = "", branch: str = "") -> dict:
            chosen = [
                run
                for run in self.runs
                if run.workflow == workflow
                and status in ("", "completed", run.conclusion)  # every run here has finished
                and event in ("", run.event)
                and branch in ("", run.head_branch)
            ]
            listed = [
                {
                    "id": run.id,
                    "created_at": run.created_at,
                    "conclusion": run.conclusion,
                    "event": run.event,
                    "head_branch": run.head_branch,
                    "head_repository": {"full_name": run.head_repository},
                }
                for run in chosen
            ]
            return {"total_count": len(listed), "workflow_runs": listed[::-1]}

        @app.get("/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts")
        async def artifacts(run_id: int, name: str = "") -> dict:
            [run] = [run for run in self.runs if run.id == run_id]
            listed = [self._artifact(run, each) for each in sorted(run.artifacts) if name in ("", each)]
            return {"total_count": len(listed), "artifacts": listed}

        @app.get("/repos/{owner}/{repo}/actions/artifacts/{number}/zip")
        async def download(number: int) -> Response:
            run = self.runs[number // 100 - 1]
            files = run.artifacts[sorted(run.artifacts)[number % 100]]
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for file_name, content in files.items():
                    archive.writestr(file_name, content)
            return Response(buffer.getvalue(), media_type="application/zip")

        return app
