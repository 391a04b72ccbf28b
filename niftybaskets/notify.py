"""Telling the owner: the Kite login reminder, rebalance results, new baskets and failed steps, sent
through apprise to every channel in NOTIFY_URLS (Telegram, email, ntfy, Discord, a webhook...).

Messages fit a phone screen and link the site. They never carry a secret: every secret the settings
hold is blanked, a Gemini key by its shape too, and a Zerodha client id shows only its last two
characters. Sending never raises: a channel that does not take a message is named in the Delivery,
by its scheme and place in NOTIFY_URLS (`tgram #1`), never by its URL, for the caller to warn about.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote

import apprise

from niftybaskets.baskets import load_basket, parse_stem
from niftybaskets.config import GEMINI_KEY_PATTERN, Settings
from niftybaskets.github import TOKEN_ARTIFACT, TOKEN_WORKFLOW, GitHub
from niftybaskets.kite.sessions import LOGIN_AND_PUSH, TOKEN_EXPIRY, latest_expiry
from niftybaskets.market import IST, NseCalendar

TEST_COMMAND = "python3 scripts/notify.py --test"
HIDDEN = "[hidden]"
# A Zerodha client id: two or three capital letters, then digits, six characters in all (AB1234).
CLIENT_ID = re.compile(r"\b(?=[A-Z0-9]{6}\b)[A-Z]{2,3}[0-9]{3,4}\b")
# A secret shorter than this is a placeholder; blanking it would blank ordinary words.
SHORTEST_SECRET = 8
MAX_ORDERS_LISTED = 3  # orders not filled, named one by one; the rest are counted


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    problem: bool = False  # a failure, a refusal, money left unspent or a reminder: sent at NOTIFY_LEVEL=problems


@dataclass(frozen=True)
class Delivery:
    """What became of one message: the channels that took it and those that did not; `skipped`
    says why nothing was sent."""

    sent: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    skipped: str = ""

    @property
    def warning(self) -> str:
        """For the console; "" when every channel took the message."""
        if not self.failed:
            return ""
        return (
            f"the notification did not reach {', '.join(self.failed)} of NOTIFY_URLS; "
            f"check the channels with {TEST_COMMAND}"
        )

    @property
    def summary(self) -> str:
        """A line for the job summary; "" when nothing was sent."""
        if self.failed:
            return f"- ⚠️ Notification not delivered to {', '.join(self.failed)}: check NOTIFY_URLS (`{TEST_COMMAND}`)."
        return f"- Notification sent to {', '.join(self.sent)}." if self.sent else ""


def short_id(user_id: str) -> str:
    """A Zerodha client id by its last two characters: "…01"."""
    return f"…{user_id[-2:]}" if user_id else "…"


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the settings hold, to be blanked from any message."""
    values = [
        settings.kite_api_secret,
        settings.kite_access_token,
        settings.encryption_key,
        settings.github_token,
        settings.gh_token,
        *settings.notify_urls,
    ]
    return [value.get_secret_value() for value in values] + settings.gemini_keys


def url_pieces(url: str) -> list[str]:
    """A channel URL and its parts long enough to be a token, a password or an address, as written and
    percent-decoded, longest first: what apprise's log lines may quote of it."""
    parts = re.split(r"[/:@?&=,;#]+", url.partition("://")[2])
    pieces = {url, *(part for part in parts if len(part) >= 6)}
    return sorted(pieces | {unquote(piece) for piece in pieces}, key=len, reverse=True)


class _HideSecrets(logging.Filter):
    def __init__(self, secrets: Sequence[str]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        record.msg, record.args = text, None
        return True


@contextmanager
def _apprise_logging(urls: Sequence[str]) -> Iterator[None]:
    """apprise's warnings (why a channel refused) stay, with the channels' secrets blanked; its debug
    lines, which quote request URLs (a Telegram bot token sits in one), are dropped."""
    logger = logging.getLogger("apprise")
    hide = _HideSecrets([piece for url in urls for piece in url_pieces(url)])
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addFilter(hide)
    try:
        yield
    finally:
        logger.removeFilter(hide)
        logger.setLevel(level)


def channel_label(url: str, number: int) -> str:
    scheme = url.partition("://")[0].lower()
    return f"{scheme} #{number}" if re.fullmatch(r"[a-z0-9]{1,32}", scheme) else f"#{number}"


class Notifier:
    """The channels of NOTIFY_URLS, and NOTIFY_LEVEL: `all`, or `problems` for only the messages
    that need the owner."""

    def __init__(self, urls: Sequence[str], level: str = "all", hidden: Sequence[str] = ()) -> None:
        self.urls = list(urls)
        self.level = level
        self.hidden = sorted({secret for secret in hidden if len(secret) >= SHORTEST_SECRET}, key=len, reverse=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> Notifier:
        return cls(
            [url.get_secret_value() for url in settings.notify_urls], settings.notify_level, secrets_of(settings)
        )

    @property
    def configured(self) -> bool:
        return bool(self.urls)

    @property
    def channels(self) -> list[str]:
        return [channel_label(url, number) for number, url in enumerate(self.urls, start=1)]

    def send(self, message: Message) -> Delivery:
        """`message` to every channel, unless NOTIFY_LEVEL=problems and it is none."""
        if not self.urls:
            return Delivery(skipped="NOTIFY_URLS is not set")
        if self.level == "problems" and not message.problem:
            return Delivery(skipped="NOTIFY_LEVEL=problems, and this is not one")
        return self.deliver(message)

    def deliver(self, message: Message) -> Delivery:
        """`message` to every channel, whatever NOTIFY_LEVEL says."""
        title, body = self.scrub(message.title), self.scrub(message.body)
        asset = apprise.AppriseAsset(app_id="niftybaskets", app_desc="niftybaskets")
        sent, failed = [], []
        with _apprise_logging(self.urls):
            for label, url in zip(self.channels, self.urls, strict=True):
                service = apprise.Apprise.instantiate(url, asset=asset)
                try:
                    took = service is not None and service.notify(
                        body=body, title=title, body_format=apprise.NotifyFormat.TEXT
                    )
                except Exception:  # a channel's own failure never fails the job
                    took = False
                (sent if took else failed).append(label)
        return Delivery(tuple(sent), tuple(failed))

    def scrub(self, text: str) -> str:
        for secret in self.hidden:
            text = text.replace(secret, HIDDEN)
        text = GEMINI_KEY_PATTERN.sub(HIDDEN, text)
        return CLIENT_ID.sub(lambda match: short_id(match[0]), text)


# Links


def site_url(repository: str | None) -> str | None:
    """The fork's GitHub Pages site, https://OWNER.github.io/NAME/ (a user site: https://OWNER.github.io/)."""
    if not repository or not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        return None
    owner, name = repository.split("/")
    host = f"{owner.lower()}.github.io"
    return f"https://{host}/" if name.lower() == host else f"https://{host}/{name}/"


def run_url(env: Mapping[str, str]) -> str | None:
    """This GitHub Actions run's page, or None outside Actions."""
    repository, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not (repository and run_id):
        return None
    server = env.get("GITHUB_SERVER_URL") or "https://github.com"
    return f"{server.rstrip('/')}/{repository}/actions/runs/{run_id}"


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _links(run: str | None = None, site: str | None = None) -> list[str]:
    return [line for line in (run and f"Run: {run}", site and f"Site: {site}") if line]


def _rupees(amount: float) -> str:
    return f"₹{amount:,.0f}"


# Messages


def channel_check_message(site: str | None) -> Message:
    return Message(
        "niftybaskets: test message",
        "\n".join(
            [
                "This channel works: niftybaskets will send the Kite login reminder, rebalance results, "
                "new baskets and failed steps here.",
                *_links(site=site),
            ]
        ),
    )


def login_reminder(now: datetime, site: str | None, command: str = LOGIN_AND_PUSH, checked: bool = True) -> Message:
    """Today's session needs a Kite login; `checked` False: whether there is one could not be found out."""
    local = now.astimezone(IST)
    found = (
        f"No Kite login for today's session ({local:%a %d %b}) by {local:%H:%M} IST."
        if checked
        else f"Could not check for a Kite login for today's session ({local:%a %d %b}); if you have not logged in:"
    )
    return Message("Kite login needed", "\n".join([found, f"Log in: {command}", *_links(site=site)]), problem=True)


def failure_message(step: str, reason: str, next_step: str = "", run: str | None = None) -> Message:
    lines = [shorten(reason, 300)]
    if next_step:
        lines.append(f"Next: {shorten(next_step, 200)}")
    return Message(f"niftybaskets: {step} failed", "\n".join([*lines, *_links(run=run)]), problem=True)


def _basket_name(path: str) -> str:
    stem = parse_stem(Path(path).stem)
    return f"{stem.index} of {stem.created:%d %b %Y}" if stem else Path(path).name


def rebalance_message(report: Mapping, run: str | None = None, site: str | None = None) -> Message:
    """From the rebalance report's JSON (niftybaskets.rebalance.report.report_data): the deficit before
    and after, the orders filled and not, and why it stopped. A problem when the run failed, an order
    was not filled, or sale money waits for the next session."""
    mode = report.get("mode", "")
    dry_run = mode == "dry-run"
    stop = report.get("stop_reason") or ""
    orders = [order for record in report.get("passes", []) for order in record.get("orders", [])]
    unfilled = [] if dry_run else [order for order in orders if order.get("outcome") != "filled"]
    money_waits = "next session" in stop  # sale money Kite lets the account use only from the next session
    if report.get("failed"):
        state = "stopped short"
    elif unfilled:
        state = "done: orders not filled"
    else:
        state = "done: money left" if money_waits else "done"
    title = f"Rebalance {state} ({mode}, {short_id(report.get('user_id', ''))})"
    problem = state != "done"
    if not report.get("stocks"):
        lines = [f"Stopped before planning: {shorten(stop, 300)}"]
    else:
        deficit = report["deficit"]
        lines = [
            f"Basket: {_basket_name(report.get('basket', ''))}",
            f"Deficit {_rupees(deficit['before'])} ({deficit['before_percent']:.2f}%) → {_after(deficit)}",
        ]
        if dry_run:
            lines.append(f"{len(orders)} orders planned; nothing sent (dry run).")
        elif orders:
            counts = Counter(order.get("outcome", "") for order in orders)
            lines.append("Orders: " + ", ".join(f"{count} {outcome}" for outcome, count in counts.most_common()) + ".")
        else:
            lines.append("No order sent.")
        for order in unfilled[:MAX_ORDERS_LISTED]:
            why = f": {order['message']}" if order.get("message") else ""
            lines.append(shorten(f"{order['symbol']} {order['side']} {order['quantity']} {order['outcome']}{why}", 120))
        if len(unfilled) > MAX_ORDERS_LISTED:
            lines.append(f"…and {len(unfilled) - MAX_ORDERS_LISTED} more not filled.")
        lines.append(f"Why it stopped: {shorten(stop, 240)}")
    return Message(title, "\n".join([*lines, *_links(run, site)]), problem=problem)


def _after(deficit: Mapping) -> str:
    if deficit.get("after") is None:
        return "unknown (check Kite's order book)"
    expected = " expected" if deficit.get("after_is_expected") else ""
    return f"{_rupees(deficit['after'])} ({deficit['after_percent']:.2f}%){expected}"


def _weight(weight: float) -> str:
    return f"{weight * 100:.1f}".rstrip("0").rstrip(".") + "%"


def latest_score(docs: Path, index: str) -> str | None:
    """The scored ledger's newest scored basket of `index` (docs/performance/*.json), as a line."""
    newest = None
    for path in sorted((docs / "performance").glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("index") != index:
            continue
        for basket in data.get("baskets") or []:
            if basket.get("status") == "scored" and (newest is None or basket["published"] > newest["published"]):
                newest = basket
    if newest is None or newest.get("net_return") is None or (newest.get("index") or {}).get("return") is None:
        return None
    published = datetime.fromisoformat(newest["published"])
    return (
        f"Last scored basket ({published:%d %b}): {newest['net_return']:+.2%} after costs, "
        f"index {newest['index']['return']:+.2%}."
    )


def published_message(docs: Path, basket_file: Path, site: str | None = None) -> Message:
    """A new basket: its stocks and weights, the scored ledger's latest line, and its page."""
    stem = parse_stem(basket_file.stem)
    weights = load_basket(basket_file).weights
    stocks = ", ".join(f"{symbol} {_weight(weight)}" for symbol, weight in sorted(weights.items(), key=lambda i: -i[1]))
    index = stem.index if stem else basket_file.stem
    lines = [f"Published {stem.created:%d %b %Y %H:%M} IST:" if stem else "Published:", stocks]
    score = latest_score(docs, index)
    if score:
        lines.append(score)
    if site and stem:
        lines.append(f"Page: {site}{stem.page}")
    return Message(f"New basket: {index}", "\n".join(lines))


# The login reminder's check


def last_login_pushed(github: GitHub) -> datetime | None:
    """When the newest kite-token artifact (left by `kite_login.py --push`) was made, or None."""
    artifact = github.latest_artifact(TOKEN_WORKFLOW, TOKEN_ARTIFACT, github.default_branch())
    created = (artifact or {}).get("created_at")
    return datetime.fromisoformat(created) if created else None


def why_no_reminder(calendar: NseCalendar, now: datetime, last_login: datetime | None) -> str | None:
    """Why the owner need not be reminded to log in now, or None when they must be: a trading day
    after Kite's 06:00 IST reset with no login since."""
    local = now.astimezone(IST)
    if last_login is not None and last_login >= latest_expiry(now):
        return (
            f"a Kite login was pushed at {last_login.astimezone(IST):%a %H:%M} IST, after the last {TOKEN_EXPIRY:%H:%M}"
        )
    if not calendar.is_trading_day(local.date()):
        return f"{local:%a %d %b} is not a trading day"
    if local.time() < TOKEN_EXPIRY:
        return f"today's login can be made only after {TOKEN_EXPIRY:%H:%M} IST"
    return None
