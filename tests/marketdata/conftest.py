"""Fakes of NSE, NSE Indices and Yahoo on loopback ports, each answering from recorded real answers."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from niftybaskets.marketdata.chain import MarketData
from niftybaskets.marketdata.niftyindices import NiftyIndicesClient
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.marketdata.yahoo import YahooClient
from niftybaskets.ratelimit import RateLimiter
from niftybaskets.webserver import BackgroundServer
from tests.fakes.clock import SteppingMonotonic
from tests.fakes.niftyindices import FakeNiftyIndices
from tests.fakes.nse import RECORDED, FakeNse
from tests.fakes.yahoo import FakeYahoo


@dataclass
class Services:
    nse: FakeNse
    nse_url: str
    indices: FakeNiftyIndices
    indices_url: str
    yahoo: FakeYahoo
    yahoo_url: str

    def serve_recording(self, route: str, name: str, status: int = 200, media_type: str = "application/json") -> None:
        self.nse.recordings[route] = (status, (RECORDED / name).read_text(encoding="utf-8"), media_type)

    def market(self, tmp_path, *names: str, said: list[str] | None = None) -> MarketData:
        limiter = RateLimiter(SteppingMonotonic(), sleep=lambda seconds: None)
        kept = tmp_path / "unexpected"
        clients = {
            "nse": NseClient(self.nse_url, unexpected_dir=kept, limiter=limiter),
            "niftyindices": NiftyIndicesClient(f"{self.indices_url}/IndexConstituent", limiter=limiter),
            "yahoo": YahooClient(self.yahoo_url, unexpected_dir=kept, limiter=limiter),
        }
        return MarketData([clients[name] for name in names], (said if said is not None else []).append)


@pytest.fixture
def services():
    nse, indices, yahoo = FakeNse(), FakeNiftyIndices(), FakeYahoo()
    with (
        BackgroundServer(nse.app) as nse_server,
        BackgroundServer(indices.app) as indices_server,
        BackgroundServer(yahoo.app) as yahoo_server,
    ):
        yield Services(nse, nse_server.url, indices, indices_server.url, yahoo, yahoo_server.url)
