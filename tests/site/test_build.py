"""The static site GitHub Pages serves: docs/ built into HTML pages, as a reader and the CLI see it."""

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from niftybaskets.site.baskets import write_basket
from niftybaskets.site.build import build_site
from niftybaskets.site.index_page import update_index
from tests.site.conftest import (
    NIFTY50,
    POOL,
    REPOSITORY,
    SMALLCAP,
    Page,
    november,
    publish,
    published_weights,
    shown_weights,
)


def read(path: Path) -> Page:
    return Page.of(path.read_text(encoding="utf-8"))


def built_file(out: Path, page: Path, href: str) -> Path | None:
    """The built file a relative link on `page` reaches, served the GitHub Pages way; None if nothing."""
    target = (page.parent / unquote(urlsplit(href).path)).resolve()
    for candidate in (target / "index.html", target, target.with_name(target.name + ".html")):
        if candidate.is_file() and candidate.is_relative_to(out.resolve()):
            return candidate
    return None


def run_script(*args: str, cwd: Path = REPOSITORY) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPOSITORY / "scripts" / "build_site.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def test_every_markdown_page_becomes_an_html_page_with_its_title_that_reads_on_a_phone(sample, tmp_path):
    out = tmp_path / "_site"
    pages = build_site(sample.docs, out)
    sources = sorted(sample.docs.rglob("*.md"))
    assert len(sources) == 4  # the index and three baskets
    assert sorted(pages) == sorted(out / s.relative_to(sample.docs).with_suffix(".html") for s in sources)
    assert not list(out.rglob("*.md"))
    for path in pages:
        page = read(path)
        assert page.title.strip(), path
        assert "width=device-width" in page.meta["viewport"], path
        assert "initial-scale=1" in page.meta["viewport"], path
    assert read(out / "index.html").title == "niftybaskets"
    # Every basket's heading is the same; the tab and the history name the index and the day.
    assert read(out / "baskets" / f"{sample.latest.stem}.html").title == (
        f"{sample.latest.index} basket of {sample.latest.created:%d %b %Y}"
    )


def test_the_index_lists_the_latest_basket_per_index_and_the_history_with_links_that_reach_built_pages(
    sample, tmp_path
):
    out = tmp_path / "_site"
    build_site(sample.docs, out)
    index = out / "index.html"
    links = read(index).links
    latest = [link for link in links if link.section == "Latest baskets"]
    history = [link for link in links if link.section == "History"]
    assert [link.href for link in latest] == [sample.other.page, sample.latest.page]  # by index name
    assert [link.href for link in history] == [sample.older.page]
    assert latest[0].text.startswith(NIFTY50) and latest[1].text.startswith(f"{SMALLCAP}, 22 Nov 2026 09:30 IST")
    assert history[0].text.startswith(f"{SMALLCAP}, 15 Nov 2026 09:30 IST")
    for link in latest + history:
        assert not link.href.endswith((".md", ".html")), "GitHub Pages serves NAME.html at NAME"
        stem = unquote(link.href.removeprefix("baskets/"))
        assert built_file(out, index, link.href) == (out / "baskets" / f"{stem}.html").resolve()


def test_a_basket_page_shows_the_weights_the_rebalancer_reads_in_a_table(sample, tmp_path):
    out = tmp_path / "_site"
    build_site(sample.docs, out)
    for basket in (sample.latest, sample.older, sample.other):
        page = read(out / "baskets" / f"{basket.stem}.html")
        assert shown_weights(page) == published_weights(sample.docs / "baskets" / f"{basket.stem}.json")
    latest = read(out / "baskets" / f"{sample.latest.stem}.html")
    assert shown_weights(latest) == [("BETA", "45.00%"), ("DELTA", "35.00%"), ("ALPHA", "20.00%")]


def test_the_basket_json_and_its_forecasts_are_published_byte_for_byte(sample, tmp_path):
    out = tmp_path / "_site"
    build_site(sample.docs, out)
    copies = [path for path in sample.docs.rglob("*") if path.is_file() and path.suffix != ".md"]
    assert len(copies) == 6  # three baskets and their forecasts
    for source in copies:
        assert (out / source.relative_to(sample.docs)).read_bytes() == source.read_bytes()


def test_github_pages_is_told_not_to_run_jekyll_over_the_built_site(sample, tmp_path):
    out = tmp_path / "_site"
    build_site(sample.docs, out)
    assert (out / ".nojekyll").is_file()


def test_every_relative_link_on_every_page_reaches_a_built_file(sample, tmp_path):
    out = tmp_path / "_site"
    for path in build_site(sample.docs, out):
        for link in read(path).links:
            if urlsplit(link.href).scheme:
                assert urlsplit(link.href).scheme == "https", link.href
                continue
            assert built_file(out, path, link.href), f"{link.href} on {path.relative_to(out)} leads nowhere"


def test_a_rebuild_replaces_stale_output_and_shows_a_newly_published_basket(sample, tmp_path):
    out = tmp_path / "_site"
    build_site(sample.docs, out)
    (out / "baskets" / "withdrawn.html").write_text("<p>stale</p>")
    (out / "notes.txt").write_text("stale")
    newest = publish(sample.docs, NIFTY50, november(29, 9, 30), {"ALPHA": 0.7, "EPSILON": 0.3})
    build_site(sample.docs, out)
    assert not (out / "baskets" / "withdrawn.html").exists()
    assert not (out / "notes.txt").exists()
    links = read(out / "index.html").links
    assert [link.href for link in links if link.section == "Latest baskets"] == [newest.page, sample.latest.page]
    assert sample.other.page in [link.href for link in links if link.section == "History"]
    assert (out / "baskets" / f"{newest.stem}.html").is_file()


def test_building_into_the_docs_folder_or_a_folder_above_or_below_it_deletes_nothing(sample, tmp_path):
    before = {path: path.read_bytes() for path in sample.docs.rglob("*") if path.is_file()}
    for out in (sample.docs, tmp_path, sample.docs / ".", sample.docs / "_site"):
        with pytest.raises(ValueError, match="build the site outside"):
            build_site(sample.docs, out)
    assert {path: path.read_bytes() for path in sample.docs.rglob("*") if path.is_file()} == before
    result = run_script("--docs", str(sample.docs), "--out", str(sample.docs))
    assert result.returncode == 2 and "error: build the site outside" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_index_with_no_basket_yet_still_builds_a_page_that_says_so(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    update_index(docs)
    build_site(docs, tmp_path / "_site")
    assert "None yet" in (tmp_path / "_site" / "index.html").read_text()


def test_the_build_script_builds_the_site_and_says_how_many_pages(sample, tmp_path):
    out = tmp_path / "_site"
    result = run_script("--docs", str(sample.docs), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Built 4 pages into {out}"
    assert (out / "index.html").is_file() and (out / "baskets" / f"{sample.latest.stem}.html").is_file()


def test_the_build_script_builds_the_repository_docs_with_its_defaults(tmp_path):
    result = run_script("--out", str(tmp_path / "_site"))
    assert result.returncode == 0, result.stderr
    assert "niftybaskets" in (tmp_path / "_site" / "index.html").read_text()
    assert not (tmp_path / "docs").exists()


def test_the_build_script_exits_2_with_a_message_when_docs_index_md_is_missing(tmp_path):
    (tmp_path / "docs" / "baskets").mkdir(parents=True)
    result = run_script("--out", str(tmp_path / "_site"), cwd=tmp_path / "docs")
    assert result.returncode == 2
    assert "error:" in result.stderr and "index.md is missing" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "_site").exists()


def test_markup_in_the_models_summary_shows_as_text_and_never_runs(sample, tmp_path):
    reason = 'Strong quarter. <script>alert("x")</script> <img src=x onerror=alert(1)>'
    published = write_basket(sample.docs, SMALLCAP, november(29, 9, 30), POOL, {"ALPHA": 1.0}, reason)
    build_site(sample.docs, tmp_path / "_site")
    page = (tmp_path / "_site" / "baskets" / f"{published.stem}.html").read_text()
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert" in page
