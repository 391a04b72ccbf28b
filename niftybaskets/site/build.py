"""Building docs/ into the static site GitHub Pages serves: one HTML page per Markdown file.

`index.md` links baskets without `.md` (`baskets/NAME`), as GitHub Pages serves `NAME.html` at
`NAME`; the built pages keep those links, and every other file (the baskets' JSON) is copied.
"""

from __future__ import annotations

import html
import shutil
from pathlib import Path

from markdown_it import MarkdownIt

from niftybaskets.baskets import FOLDER, parse_stem

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 60rem; padding: 1rem; line-height: 1.5; color: #1f2328; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
a { color: #0969da; overflow-wrap: anywhere; }
table { border-collapse: collapse; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
img { max-width: 100%; height: auto; }
nav { font-size: 0.9rem; margin-bottom: 1rem; }
footer { margin-top: 3rem; font-size: 0.8rem; color: #59636e; }
@media (max-width: 40rem) { body { padding: 0.6rem; } th, td { padding: 0.25rem 0.4rem; } }
"""


def page(title: str, body: str, home: str) -> str:
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<nav><a href='{home}'>niftybaskets</a></nav><main>{body}</main>"
        "<footer>Published by niftybaskets. Not investment advice.</footer></body></html>\n"
    )


def title_of(relative: Path, markdown: str) -> str:
    """A basket page's title names its index and day (its heading is the same on every basket);
    other pages take their first heading."""
    basket = parse_stem(relative.stem) if relative.parts[0] == FOLDER else None
    if basket is not None:
        return f"{basket.index} basket of {basket.created:%d %b %Y}"
    for line in markdown.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return relative.stem


def build_site(docs: Path, out: Path) -> list[Path]:
    """Render every Markdown file under `docs` into `out` (replaced), copy the rest; the pages made."""
    if docs.resolve().is_relative_to(out.resolve()) or out.resolve().is_relative_to(docs.resolve()):
        raise ValueError(f"build the site outside {docs}: {out} would replace or mix with its sources")
    if out.exists():
        shutil.rmtree(out)
    renderer = MarkdownIt("commonmark", {"html": True}).enable("table")
    pages = []
    for source in sorted(docs.rglob("*")):
        if source.is_dir():
            continue
        relative = source.relative_to(docs)
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.suffix != ".md":
            shutil.copy2(source, target)
            continue
        markdown = source.read_text(encoding="utf-8")
        home = "../" * (len(relative.parts) - 1) or "./"
        target = target.with_suffix(".html")
        target.write_text(page(title_of(relative, markdown), renderer.render(markdown), home), encoding="utf-8")
        pages.append(target)
    (out / ".nojekyll").write_text("")  # the site is built already: Pages must not run Jekyll on it
    return pages
