"""The scored ledger as a reader sees it: headless Chromium follows the index's link to the ledger
page, every chart loads, and a basket's score links back to its row."""

import json
from urllib.parse import unquote, urljoin

from rich.console import Console

from niftybaskets.cli.score_ledger import ScoreRequest, score
from niftybaskets.site.build import build_site
from tests.ledger.conftest import INDEX
from tests.site.conftest import Page
from tests.site.test_browser import PHONE, dom_of, on_a_phone, served

CHARTS = [f"nifty-smallcap-250-{name}.svg" for name in ("growth", "excess", "calibration")]


def built_site(world, tmp_path):
    score(world.settings(), ScoreRequest(None, ("nse",), "open"), Console(width=200), world.clock, [world.source()])
    out = tmp_path / "_site"
    build_site(world.docs, out)
    return out


def test_the_ledger_page_shows_its_charts_and_links_both_ways(world, tmp_path):
    profiles = tmp_path / "profiles"
    with served(built_site(world, tmp_path)) as site:
        index = Page.of(dom_of(site, profiles))
        link = next(link for link in index.links if link.section == "Scored ledger")
        assert link.text == INDEX
        ledger_url = urljoin(site, link.href)

        page = Page.of(dom_of(ledger_url, profiles))
        assert page.title == f"Scored ledger: {INDEX}"
        assert int(page.root["data-images"]) == len(CHARTS)
        assert json.loads(page.root["data-broken-images"]) == []
        baskets = page.table_with("Basket", "Bought", "Sold")
        assert [row[-1] for row in baskets] == ["open until 08 Sep 2025", "scored", "scored"]

        basket = Page.of(dom_of(urljoin(site, f"baskets/{world.first.stem}"), profiles))
        score_link = next(link for link in basket.links if link.section == "Score")
        assert unquote(urljoin(urljoin(site, f"baskets/{world.first.stem}"), score_link.href)) == (
            f"{ledger_url}#nifty-smallcap-250-aug-14-2025-20-00-n3-k3"
        )
        viewport, width = on_a_phone(ledger_url, profiles)
        assert viewport == PHONE[0] and width <= viewport, "the ledger page scrolls sideways on a phone"


def test_a_chart_that_is_not_there_is_reported_broken(world, tmp_path):
    out = built_site(world, tmp_path)
    (out / "performance" / CHARTS[0]).unlink()
    with served(out) as site:
        page = Page.of(dom_of(urljoin(site, "performance/nifty-smallcap-250"), tmp_path / "profiles"))
    assert json.loads(page.root["data-broken-images"]) == [CHARTS[0]]
