"""A fake of NSE Indices' constituent files (`/IndexConstituent/ind_{name}list.csv`), in the shape of
the recorded files (tests/fixtures/recorded/nse/ind_*.csv): the same header, CRLF line ends, no
quoting. What the site answers for a file it does not have was not recorded: a plain 404 here."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse, Response

from niftybaskets.marketdata.niftyindices import COLUMNS, file_name

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "nse"


def constituent_csv(rows: list[tuple[str, str, str]]) -> str:
    """(company, industry, symbol) rows as NSE Indices writes them, every series EQ."""
    lines = [
        ",".join(COLUMNS),
        *(f"{company},{industry},{symbol},EQ,INE000000000" for company, industry, symbol in rows),
    ]
    return "\r\n".join(lines) + "\r\n"


class FakeNiftyIndices:
    def __init__(self) -> None:
        self.files: dict[str, str] = {}  # file name -> CSV text
        self.calls: list[str] = []
        self.app = self._build()

    def publish(self, index: str, text: str) -> None:
        self.files[file_name(index)] = text

    def publish_recorded(self, index: str, recording: str) -> None:
        self.publish(index, (RECORDED / recording).read_bytes().decode("utf-8"))

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.get("/IndexConstituent/{name}")
        async def constituents(name: str) -> Response:
            self.calls.append(name)
            if name not in self.files:
                return PlainTextResponse("Not Found", status_code=404)
            return Response(self.files[name], media_type="text/csv")

        return app
