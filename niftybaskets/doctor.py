"""The set-up check behind `scripts/doctor.py`: one result per outside dependency, with the next step
for each failure. It calls the project's own clients (NseClient, NiftyIndicesClient, YahooClient,
Sessions and the kiteconnect SDK, google-genai, GitHub), never its own copies of their requests.

Checks run in parallel, each within a timeout. Nothing here prints or exits: `run_checks` returns a
`Report`, and its `verdict` says whether the main job can run. No secret ever reaches a result: every
text is scrubbed of the keys and tokens at hand (a Gemini key becomes "key #N"), and a Kite user id
is shown by its last two characters.

What "the main job can run" means (`Report.verdict`), among the checks selected:
- "misconfigured" (scripts/doctor.py exits 2): a setting is missing or malformed — neither a Gemini
  key nor a Kite login is configured (research needs the one, the rebalance the other); KITE_API_KEY
  without ENCRYPTION_KEY; ENCRYPTION_KEY not a Fernet key; MARKET_DATA_SOURCES names no source of
  index lists or of prices; Python older than 3.11 or a pinned package not installed.
- "failed" (exit 1): a needed service fails — no source of index lists answers (NSE's list, NSE
  Indices' file), no source of prices answers (NSE's quote, Yahoo's, Kite's ltp), the configured
  Gemini keys all fail, the configured Kite login is missing or refused, or the configured GitHub
  token cannot read the repository.
- "ok" (exit 0) otherwise. A source failing while another of its kind answers, history routes
  (the scored ledger warns and goes on without them), Kite's plan refusing market or historical
  data (the project falls back to NSE and Yahoo), and a package at another version than its pin are
  ✗ lines that do not stop the job.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from importlib import metadata
from pathlib import Path

import requests
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kite_errors
from pydantic import SecretStr

from niftybaskets.config import GEMINI_KEY_PATTERN, HOW_TO_SET, ConfigError, Settings
from niftybaskets.encryption import fernet_from_key
from niftybaskets.kite.wire import EXCHANGE
from niftybaskets.market import IST
from niftybaskets.marketdata.answers import MarketDataError, NotFound, UnexpectedAnswer
from niftybaskets.marketdata.chain import NEXT_STEP
from niftybaskets.marketdata.niftyindices import NiftyIndicesClient
from niftybaskets.marketdata.nse import NseClient
from niftybaskets.marketdata.yahoo import YahooClient, ticker

OK, FAIL, SKIP = "ok", "fail", "skip"
GROUPS = ("python", "encryption", "nse", "niftyindices", "yahoo", "kite", "gemini", "github")
# Needs: a need is met when one of its selected lines passes.
INDEX_LISTS, PRICES, GEMINI, KITE, GITHUB = "index lists", "prices", "gemini", "kite", "github"
MIN_PYTHON = (3, 11)
REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"
HISTORY_DAYS = 10
PING = "Reply with the single word OK."
LOGIN_STEP = "log in this morning: python3 scripts/kite_login.py (for the workflows: kite_login.py --push)"


@dataclass(frozen=True)
class CheckResult:
    id: str  # "nse.quote": its group, then the line
    group: str  # what --only selects: nse, niftyindices, yahoo, kite, gemini, github, encryption, python
    label: str
    status: str  # ok, fail or skip
    detail: str = ""
    next_step: str = ""
    need: str | None = None  # what the main job needs this line for; None: it can do without
    misconfigured: bool = False  # a failure of a setting, not of a service
    seconds: float = 0.0


@dataclass(frozen=True)
class Report:
    results: list[CheckResult]
    verdict: str  # ok, failed or misconfigured
    reasons: list[str]  # why the verdict is not ok, one sentence each


@dataclass
class Options:
    index: str = "NIFTY 50"
    symbol: str = "RELIANCE"
    timeout: float = 15.0
    only: set[str] = field(default_factory=lambda: set(GROUPS))  # groups (nse) or lines (nse.quote)
    repository_folder: Path = Path(".")


class Redactor:
    """Every secret at hand, to be scrubbed from the results: Gemini keys become "key #N"."""

    def __init__(self, settings: Settings) -> None:
        self._lock = threading.Lock()
        self.keys = list(settings.gemini_keys)
        self.secrets = {
            secret.get_secret_value()
            for secret in (
                SecretStr(settings.kite_api_key),
                settings.kite_api_secret,
                settings.kite_access_token,
                settings.encryption_key,
                settings.github_token,
                settings.gh_token,
            )
        }

    def add(self, secret: str) -> None:
        with self._lock:
            self.secrets.add(secret)

    def __call__(self, text: str) -> str:
        for number, key in enumerate(self.keys, start=1):
            if key:
                text = text.replace(key, f"key #{number}")
        with self._lock:
            secrets = sorted((s for s in self.secrets if len(s) >= 4), key=len, reverse=True)
        for secret in secrets:
            text = text.replace(secret, "[secret]")
        return GEMINI_KEY_PATTERN.sub("[a key]", text)


@dataclass(frozen=True)
class Line:
    id: str
    label: str
    need: str | None


@dataclass(frozen=True)
class Unit:
    """One job for a thread: the lines it reports (for a timeout), what to try then, and the work."""

    group: str
    lines: list[Line]
    run: Callable[[], list[CheckResult]]
    on_timeout: str = "try again later, or with a longer --timeout"


def result(line: Line, group: str, status: str, detail: str = "", next_step: str = "", **extra) -> CheckResult:
    return CheckResult(line.id, group, line.label, status, detail, next_step, line.need, **extra)


def short_user(user_id: str) -> str:
    return f"…{user_id[-2:]}" if user_id else "?"


def rupees(value: float) -> str:
    return f"₹{value:,.2f}"


def today() -> date:
    return datetime.now(IST).date()


# -- Python and packages ----------------------------------------------------------------------


def pinned_packages(path: Path = REQUIREMENTS) -> dict[str, str]:
    pins = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        name, separator, version = line.partition("==")
        if separator:
            pins[name.split("[", 1)[0].strip()] = version.strip()
    return pins


PYTHON_LINES = [Line("python.version", "Python", "setup"), Line("python.packages", "Pinned packages", "setup")]


def check_python(version: tuple[int, ...] = tuple(sys.version_info), requirements: Path = REQUIREMENTS) -> list:
    python, packages = PYTHON_LINES
    shown = ".".join(str(part) for part in version[:3])
    results = [
        result(python, "python", OK, f"{shown} ({sys.executable})")
        if version[:2] >= MIN_PYTHON
        else result(
            python,
            "python",
            FAIL,
            f"{shown} is older than {'.'.join(map(str, MIN_PYTHON))}",
            "install Python 3.11 or newer and make the venv again: rm -rf .venv && scripts/setup_venv.sh",
            misconfigured=True,
        )
    ]
    if not requirements.is_file():
        results.append(result(packages, "python", SKIP, f"no {requirements.name} next to the package"))
        return results
    missing, different = [], []
    pins = pinned_packages(requirements)
    for name, pinned in pins.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if installed != pinned:
            different.append(f"{name} {installed} (pinned {pinned})")
    reinstall = "install the pins: .venv/bin/pip install -r requirements.txt (or scripts/setup_venv.sh)"
    if missing:
        detail = f"not installed: {', '.join(missing)}" + (
            f"; other versions: {', '.join(different)}" if different else ""
        )
        results.append(result(packages, "python", FAIL, detail, reinstall, misconfigured=True))
    elif different:
        # Another version most likely works: shown, but not a reason to stop.
        results.append(
            replace(result(packages, "python", FAIL, f"other versions: {', '.join(different)}", reinstall), need=None)
        )
    else:
        results.append(result(packages, "python", OK, f"{len(pins)} packages as pinned in {requirements.name}"))
    return results


# -- ENCRYPTION_KEY ---------------------------------------------------------------------------


ENCRYPTION_LINE = Line("encryption", "ENCRYPTION_KEY", None)


def check_encryption(settings: Settings) -> list[CheckResult]:
    line = ENCRYPTION_LINE
    key = settings.encryption_key.get_secret_value()
    if not key:
        return [
            result(
                line,
                "encryption",
                SKIP,
                "not set (the Kite login and token files need it)",
                HOW_TO_SET["encryption_key"],
            )
        ]
    try:
        fernet_from_key(key)
    except ConfigError as error:
        return [result(line, "encryption", FAIL, str(error).split(";")[0], str(error), misconfigured=True)]
    return [result(line, "encryption", OK, "a valid Fernet key")]


# -- market data ------------------------------------------------------------------------------


def market_failure(line: Line, group: str, source: str, error: Exception, what: str) -> CheckResult:
    if isinstance(error, UnexpectedAnswer):
        step = f"{source} changed its answer: update the project, or report it with the saved answer"
    elif isinstance(error, NotFound) and what == "index":
        step = f"check the index name (--index) against the source; {NEXT_STEP.get(source, 'try again later')}"
    else:
        step = NEXT_STEP.get(source, "try again later")
    return result(line, group, FAIL, str(error), step)


def market_unit(
    group: str, line: Line, ask: Callable[[], object], describe: Callable[[object], str], what: str = ""
) -> Unit:
    def run() -> list[CheckResult]:
        try:
            answer = ask()
        except MarketDataError as error:
            return [market_failure(line, group, group, error, what)]
        return [result(line, group, OK, describe(answer))]

    return Unit(group, [line], run, NEXT_STEP.get(group, "try again later"))


def not_in_sources(line: Line, group: str) -> CheckResult:
    return result(
        line,
        group,
        SKIP,
        "not in MARKET_DATA_SOURCES",
        f"add {group} to MARKET_DATA_SOURCES to use it (comma-separated, in the order to ask them)",
    )


def days_text(rows: list) -> str:
    return f"{len(rows)} day{'' if len(rows) == 1 else 's'} in the last {HISTORY_DAYS}"


def nse_units(settings: Settings, options: Options) -> tuple[list[Unit], list[CheckResult]]:
    lines = {
        "index": Line("nse.index", "NSE index list", INDEX_LISTS),
        "quote": Line("nse.quote", "NSE quote", PRICES),
        "equity": Line("nse.equity_history", "NSE equity history", None),
        "index_history": Line("nse.index_history", "NSE index history", None),
        "actions": Line("nse.corporate_actions", "NSE corporate actions", None),
    }
    if "nse" not in settings.market_data_sources:
        return [], [not_in_sources(line, "nse") for line in lines.values()]

    def client() -> NseClient:  # one each: a slow route must not hold up the others
        return NseClient(settings.nse_base_url, timeout=options.timeout, unexpected_dir=settings.unexpected_dir)

    last = today()
    first = last - timedelta(days=HISTORY_DAYS)
    symbol, index = options.symbol, options.index
    return [
        market_unit(
            "nse",
            lines["index"],
            lambda: client().index_constituents(index),
            lambda stocks: f"{index}: {len(stocks)} stocks",
            "index",
        ),
        market_unit(
            "nse", lines["quote"], lambda: client().quote(symbol), lambda q: f"{symbol} {rupees(q.last_price)}"
        ),
        market_unit(
            "nse",
            lines["equity"],
            lambda: client().equity_history(symbol, first, last),
            lambda rows: f"{symbol}: {days_text(rows)}",
        ),
        market_unit(
            "nse",
            lines["index_history"],
            lambda: client().index_history(index, first, last),
            lambda rows: f"{index}: {days_text(rows)}",
        ),
        market_unit(
            "nse",
            lines["actions"],
            lambda: client().corporate_actions(symbol),
            lambda actions: f"{symbol}: {len(actions)} corporate action{'' if len(actions) == 1 else 's'} listed",
        ),
    ], []


def niftyindices_units(settings: Settings, options: Options) -> tuple[list[Unit], list[CheckResult]]:
    line = Line("niftyindices.index", "NSE Indices constituent file", INDEX_LISTS)
    if "niftyindices" not in settings.market_data_sources:
        return [], [not_in_sources(line, "niftyindices")]
    client = NiftyIndicesClient(
        settings.nifty_indices_base_url, timeout=options.timeout, unexpected_dir=settings.unexpected_dir
    )
    index = options.index
    unit = market_unit(
        "niftyindices",
        line,
        lambda: client.index_constituents(index),
        lambda stocks: f"{index}: {len(stocks)} stocks",
        "index",
    )
    return [unit], []


def yahoo_units(settings: Settings, options: Options) -> tuple[list[Unit], list[CheckResult]]:
    quote_line = Line("yahoo.quote", "Yahoo quote", PRICES)
    history_line = Line("yahoo.history", "Yahoo daily history", None)
    if "yahoo" not in settings.market_data_sources:
        return [], [not_in_sources(quote_line, "yahoo"), not_in_sources(history_line, "yahoo")]

    def client() -> YahooClient:
        return YahooClient(settings.yahoo_base_url, timeout=options.timeout, unexpected_dir=settings.unexpected_dir)

    last = today()
    first = last - timedelta(days=HISTORY_DAYS)
    symbol, name = options.symbol, ticker(options.symbol)
    return [
        market_unit("yahoo", quote_line, lambda: client().quote(symbol), lambda q: f"{name} {rupees(q.last_price)}"),
        market_unit(
            "yahoo",
            history_line,
            lambda: client().daily_history(symbol, first, last, False),
            lambda rows: f"{name}: {days_text(rows)}",
        ),
    ], []


# -- Kite -------------------------------------------------------------------------------------

KITE_LINES = [
    Line("kite.login", "Kite login", KITE),
    Line("kite.ltp", "Kite market data (ltp)", PRICES),
    Line("kite.historical", "Kite historical data", None),
]


def check_kite(settings: Settings, options: Options, redact: Redactor) -> list[CheckResult]:
    from niftybaskets.kite.sessions import Sessions  # the SDK's import is slow: only when asked
    from niftybaskets.sqlite import StoreError
    from niftybaskets.store import TokenStore

    login, ltp, historical = KITE_LINES
    api_key, key = settings.kite_api_key, settings.encryption_key.get_secret_value()

    def rest(why: str) -> list[CheckResult]:
        return [result(line, "kite", SKIP, why) for line in (ltp, historical)]

    if not api_key:
        how = HOW_TO_SET["kite_api_key"] + ("" if key else "; and " + HOW_TO_SET["encryption_key"])
        return [result(login, "kite", SKIP, "not configured (KITE_API_KEY is not set)", how), *rest("no Kite login")]
    if not key:
        return [
            result(
                login,
                "kite",
                FAIL,
                "KITE_API_KEY is set but ENCRYPTION_KEY is not: stored logins cannot be read",
                HOW_TO_SET["encryption_key"],
                misconfigured=True,
            ),
            *rest("no Kite login"),
        ]
    try:
        fernet = fernet_from_key(key)
    except ConfigError as error:
        return [result(login, "kite", FAIL, str(error), str(error), misconfigured=True), *rest("no Kite login")]
    try:
        store = TokenStore(settings.store_path)
    except StoreError as error:  # a bad DATA_DIR or a damaged store
        return [result(login, "kite", FAIL, str(error), str(error), misconfigured=True), *rest("no Kite login")]
    notes: list[str] = []
    try:
        sessions = Sessions(settings, store, fernet, say=notes.append)
        session = sessions.choose(quiet=True)
    except ConfigError as error:  # KITE_ACCESS_TOKEN refused
        return [result(login, "kite", FAIL, str(error), f"unset KITE_ACCESS_TOKEN, or {LOGIN_STEP}"), *rest("no login")]
    except (kite_errors.KiteException, requests.RequestException) as error:
        return [
            result(
                login,
                "kite",
                FAIL,
                f"Kite could not check the login at {settings.kite_api_root}: {type(error).__name__}: {error}",
                "check the network and KITE_API_ROOT, then try again",
            ),
            *rest("no login"),
        ]
    finally:
        store.close()
    if session is None and sessions.mismatched:
        users = ", ".join(short_user(user) for user in sessions.mismatched)
        return [
            result(
                login,
                "kite",
                FAIL,
                f"KITE_API_KEY does not match the stored login of {users} (the stored login is kept)",
                "set KITE_API_KEY to the key of the app you logged in with, or log in again with this key: "
                "python3 scripts/kite_login.py",
                misconfigured=True,
            ),
            *rest("no valid Kite login"),
        ]
    if session is None:
        dropped = " (expired or unreadable logins were deleted)" if notes else ""
        return [
            result(login, "kite", FAIL, f"no valid Kite login stored in {settings.store_path}{dropped}", LOGIN_STEP),
            *rest("no valid Kite login"),
        ]
    redact.add(session.access_token)
    results = [
        result(login, "kite", OK, f"logged in as {short_user(session.user_id)} (issued {session.issued_at[:16]})")
    ]
    kite = sessions.client(session.access_token)
    kite.timeout = options.timeout
    if selected(ltp.id, "kite", options):
        results.append(kite_ltp(kite, options.symbol, ltp))
    if selected(historical.id, "kite", options):  # the instrument list is large: only when asked
        results.append(kite_historical(kite, options.symbol, historical))
    return results


def kite_ltp(kite: KiteConnect, symbol: str, line: Line) -> CheckResult:
    try:
        answer = kite.ltp([f"NSE:{symbol}"])
    except kite_errors.PermissionException:
        return result(
            line,
            "kite",
            FAIL,
            "your Kite Connect plan has no market data (Kite answered PermissionException)",
            "prices come from MARKET_DATA_SOURCES (NSE, Yahoo) instead; for Kite's own, add market data to "
            "the app's plan on developers.kite.trade",
        )
    except (kite_errors.KiteException, requests.RequestException) as error:
        return result(line, "kite", FAIL, f"{type(error).__name__}: {error}", "try again later")
    price = (answer.get(f"NSE:{symbol}") or {}).get("last_price")
    return result(line, "kite", OK, f"NSE:{symbol} {rupees(price)}" if price else f"answered (no NSE:{symbol} there)")


def kite_historical(kite: KiteConnect, symbol: str, line: Line) -> CheckResult:
    last = today()
    try:
        instruments = kite.instruments(EXCHANGE)
        tokens = {row["tradingsymbol"]: row["instrument_token"] for row in instruments}
        token = tokens.get(symbol) or next(iter(tokens.values()), None)
        if token is None:
            return result(line, "kite", FAIL, "Kite listed no NSE instruments", "try again later")
        rows = kite.historical_data(token, f"{last - timedelta(days=HISTORY_DAYS)} 00:00:00", f"{last} 23:59:59", "day")
    except kite_errors.PermissionException:
        return result(
            line,
            "kite",
            FAIL,
            "your Kite Connect plan has no historical data (Kite answered PermissionException)",
            "the scored ledger uses NSE's and Yahoo's history instead (score_ledger.py --source nse,yahoo); for "
            "Kite's, add historical data to the app's plan",
        )
    except (kite_errors.KiteException, requests.RequestException) as error:
        return result(line, "kite", FAIL, f"{type(error).__name__}: {error}", "try again later")
    return result(line, "kite", OK, f"{days_text(rows)}")


# -- Gemini -----------------------------------------------------------------------------------


def gemini_models(settings: Settings) -> list[str]:
    """GEMINI_MODEL, or the models the prompt files name."""
    if settings.gemini_model:
        return [settings.gemini_model]
    from niftybaskets.research.prompts import load_prompt

    return list(dict.fromkeys(load_prompt(name).model for name in ("forecast", "extract_forecast", "basket")))


def gemini_failure(error: Exception, number: int, model: str) -> tuple[str, str]:
    from google.genai import errors as genai_errors

    from niftybaskets.research.gemini import KEY_REFUSED

    if not isinstance(error, genai_errors.APIError):
        return (
            f"Gemini could not be reached ({type(error).__name__}: {error})",
            "check the network (and GEMINI_BASE_URL, if set), then try again",
        )
    message = f"{error.code} {error.status}: {error.message}"
    replace_key = f"replace key #{number} in GEMINI_API_KEYS with a working key from aistudio.google.com/apikey"
    if error.code in (401, 403) or any(sign in message.lower() for sign in KEY_REFUSED):
        return f"Gemini refuses key #{number} ({message})", replace_key
    if error.code == 404:
        return (
            f"the model {model} is not there for key #{number} ({message})",
            "set GEMINI_MODEL to a model the key may use (aistudio.google.com lists them), or unset it",
        )
    if error.code == 429:
        return (
            f"key #{number} is rate-limited or out of quota ({message})",
            "wait for the quota to come back (Gemini's limits are per minute and per day), or add keys",
        )
    if error.code >= 500:
        return f"Gemini answered {message}", "Gemini is busy or down: try again later"
    return f"Gemini refused the call ({message})", replace_key


def gemini_units(settings: Settings, options: Options) -> tuple[list[Unit], list[CheckResult]]:
    keys = settings.gemini_keys
    if not keys:
        line = Line("gemini", "Gemini", GEMINI)
        return [], [result(line, "gemini", SKIP, "not configured (no Gemini key)", HOW_TO_SET["gemini_keys"])]
    try:
        models = gemini_models(settings)
    except (OSError, ValueError) as error:
        line = Line("gemini", "Gemini", GEMINI)
        return [], [result(line, "gemini", FAIL, f"the prompt files cannot be read: {error}", "reinstall the project")]

    def unit(number: int, key: str) -> Unit:
        line = Line(f"gemini.key{number}", f"Gemini key #{number}", GEMINI)

        def run() -> list[CheckResult]:
            from google import genai
            from google.genai import types

            # As niftybaskets/research/gemini.py builds its clients: GEMINI_BASE_URL, no SDK retries.
            client = genai.Client(
                api_key=key,
                http_options=types.HttpOptions(
                    base_url=settings.gemini_base_url or None,
                    retry_options=types.HttpRetryOptions(attempts=1),
                    timeout=int(options.timeout * 1000),
                ),
            )
            answered = []
            for model in models:
                try:
                    # A one-line call: it proves the key, the model and the quota (models.get would not).
                    client.models.generate_content(
                        model=model, contents=PING, config=types.GenerateContentConfig(max_output_tokens=64)
                    )
                except Exception as error:  # the SDK's errors and its transports'
                    detail, step = gemini_failure(error, number, model)
                    return [result(line, "gemini", FAIL, detail, step)]
                answered.append(model)
            return [result(line, "gemini", OK, f"{', '.join(answered)} answers")]

        return Unit("gemini", [line], run, "Gemini is slow to answer: try again later")

    return [unit(number, key) for number, key in enumerate(keys, start=1)], []


# -- GitHub -----------------------------------------------------------------------------------


def check_github(settings: Settings, options: Options) -> list[CheckResult]:
    from niftybaskets.github import RESEARCH_WORKFLOW, GitHub, GitHubError

    line = Line("github", "GitHub", GITHUB)
    token = settings.github_token.get_secret_value() or settings.gh_token.get_secret_value()
    if not token:
        return [
            result(
                line,
                "github",
                SKIP,
                "not configured (GH_TOKEN / GITHUB_TOKEN not set; only kite_login.py --push needs it)",
                "for --push: set GH_TOKEN in .env to a fine-grained token of your fork with Actions: read and write",
            )
        ]
    try:
        github = GitHub.from_settings(settings, options.repository_folder)
        github.timeout = options.timeout
        branch = github.default_branch()
        github.latest_artifact(RESEARCH_WORKFLOW, "price-cache", branch)
    except ConfigError as error:
        return [result(line, "github", FAIL, str(error), "set GITHUB_REPOSITORY=owner/name", misconfigured=True)]
    except GitHubError as error:
        return [
            result(
                line,
                "github",
                FAIL,
                str(error),
                "give the token access to this repository with Actions: read and write (a fine-grained token), "
                "and check GITHUB_REPOSITORY and GITHUB_API_URL",
            )
        ]
    return [result(line, "github", OK, f"{github.repository}: readable (default branch {branch}), Actions readable")]


# -- running them -----------------------------------------------------------------------------


def units_for(settings: Settings, options: Options, redact: Redactor) -> tuple[list[Unit], list[CheckResult]]:
    units: list[Unit] = []
    ready: list[CheckResult] = []
    builders: dict[str, Callable[[], tuple[list[Unit], list[CheckResult]]]] = {
        "python": lambda: ([Unit("python", PYTHON_LINES, check_python)], []),
        "encryption": lambda: ([Unit("encryption", [ENCRYPTION_LINE], lambda: check_encryption(settings))], []),
        "nse": lambda: nse_units(settings, options),
        "niftyindices": lambda: niftyindices_units(settings, options),
        "yahoo": lambda: yahoo_units(settings, options),
        "kite": lambda: (
            [
                Unit(
                    "kite",
                    KITE_LINES,
                    lambda: check_kite(settings, options, redact),
                    "check the network, then try again",
                )
            ],
            [],
        ),
        "gemini": lambda: gemini_units(settings, options),
        "github": lambda: (
            [Unit("github", [Line("github", "GitHub", GITHUB)], lambda: check_github(settings, options))],
            [],
        ),
    }
    for group in GROUPS:
        if any(name == group or name.startswith(f"{group}.") for name in options.only):
            more_units, more_results = builders[group]()
            units += [unit for unit in more_units if any(selected(line.id, group, options) for line in unit.lines)]
            ready += [each for each in more_results if selected(each.id, group, options)]
    return units, ready


def selected(line_id: str, group: str, options: Options) -> bool:
    """--only takes groups (nse) and lines (nse.quote)."""
    return any(name in (group, line_id) or line_id.startswith(f"{name}.") for name in options.only)


def guarded(unit: Unit) -> list[CheckResult]:
    started = time.monotonic()
    try:
        results = unit.run()
    except Exception as error:  # a check's own bug must not hide the other checks
        results = [
            result(line, unit.group, FAIL, f"unexpected error: {type(error).__name__}: {error}", "report it as a bug")
            for line in unit.lines or [Line(unit.group, unit.group, None)]
        ]
    seconds = time.monotonic() - started
    return [replace(each, seconds=round(seconds, 2)) for each in results]


def run_checks(settings: Settings, options: Options) -> Report:
    """Every selected check, in parallel, each within options.timeout seconds."""
    redact = Redactor(settings)
    units, results = units_for(settings, options, redact)
    finished: dict[int, list[CheckResult]] = {}

    def run_unit(number: int) -> None:
        finished[number] = guarded(units[number])

    # Daemon threads: a check still waiting past its timeout must not keep the program from ending.
    threads = [
        threading.Thread(target=run_unit, args=(number,), name=f"doctor-{unit.group}", daemon=True)
        for number, unit in enumerate(units)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + options.timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    for number, unit in enumerate(units):
        reported = finished.get(number)
        if reported is None:
            reported = [
                result(line, unit.group, FAIL, f"no answer within {options.timeout:g} s", unit.on_timeout)
                for line in unit.lines
            ]
        results += [each for each in reported if selected(each.id, each.group, options)]
    order = {group: position for position, group in enumerate(GROUPS)}
    results = sorted(results, key=lambda each: order[each.group])  # stable: lines keep their order
    results = [replace(each, detail=redact(each.detail), next_step=redact(each.next_step)) for each in results]
    verdict, reasons = assess(results, settings)
    return Report(results, verdict, [redact(reason) for reason in reasons])


def need_state(results: Iterable[CheckResult], need: str) -> str | None:
    """ok (a line passed), fail (none passed, one failed), skip (none configured); None: not checked."""
    states = [each.status for each in results if each.need == need]
    if not states:
        return None
    if OK in states:
        return OK
    return FAIL if FAIL in states else SKIP


def assess(results: list[CheckResult], settings: Settings) -> tuple[str, list[str]]:
    misconfigured = [f"{each.label}: {each.detail}" for each in results if each.status == FAIL and each.misconfigured]
    failed = []
    for need, what in ((INDEX_LISTS, "source of index lists"), (PRICES, "source of prices")):
        state = need_state(results, need)
        if state == SKIP:
            misconfigured.append(f"MARKET_DATA_SOURCES ({', '.join(settings.market_data_sources)}) names no {what}")
        elif state == FAIL:
            failed.append(f"no {what} answers")
    main = {need: need_state(results, need) for need in (GEMINI, KITE)}
    checked = [state for state in main.values() if state is not None]
    if checked and all(state == SKIP for state in checked):
        misconfigured.append(
            "nothing to run: no Gemini key (research) and no Kite set-up (rebalance)"
            if len(checked) == 2
            else f"{'Gemini' if main[GEMINI] else 'Kite'} is not configured"
        )
    if main[GEMINI] == FAIL:
        failed.append("no Gemini key works")
    if main[KITE] == FAIL and not any(each.need == KITE and each.misconfigured for each in results):
        failed.append("no usable Kite login")
    if need_state(results, GITHUB) == FAIL and not any(each.need == GITHUB and each.misconfigured for each in results):
        failed.append("GitHub refuses the token")
    if misconfigured:
        return "misconfigured", misconfigured + failed
    if failed:
        return "failed", failed
    return "ok", []
