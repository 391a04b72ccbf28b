"""One step of the automated job, as run.sh and the GitHub workflows run it: configured by
environment variables, so that a step behaves the same on a laptop and in GitHub Actions (workflows
pass their inputs and secrets as environment variables, never inside `run:` lines, and run.sh
exports the same names). Steps run from the repository's root: its git checkout and its docs/ are
the ones used."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from kiteconnect.exceptions import KiteException
from requests import RequestException

from niftybaskets.actions import add_summary, in_actions, set_output
from niftybaskets.baskets import Published, published
from niftybaskets.cli import analyze_stocks, generate_portfolio, kite_login, rebalance_portfolio, score_ledger
from niftybaskets.cli.common import run, script_parser
from niftybaskets.cli.notify import notify_failure, notify_login_needed, notify_published, notify_rebalance
from niftybaskets.config import DEFAULT_INDEX, ConfigError, Settings, load_settings
from niftybaskets.encryption import ARTIFACT_MAX_BYTES, ArtifactError, fernet_from_key, parse_artifact, write_artifact
from niftybaskets.errors import InputError, NiftyError
from niftybaskets.github import (
    PRICE_CACHE_ARTIFACT,
    RESEARCH_WORKFLOW,
    TOKEN_ARTIFACT,
    TOKEN_FILE_NAME,
    TOKEN_WORKFLOW,
    GitHub,
    GitHubError,
)
from niftybaskets.kite.sessions import LOGIN_AND_PUSH, LOGIN_COMMAND, Sessions
from niftybaskets.market import Clock, NseCalendar, system_clock, wait_for_order_window
from niftybaskets.price_cache import PriceCache
from niftybaskets.site.build import build_site
from niftybaskets.sqlite import StoreError, make_private_folder
from niftybaskets.store import TokenStore

MODES = ("dry-run", "live", "paper")
BOT = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
PRICE_CACHE_MAX_BYTES = 500_000_000


class StepError(InputError):
    """A step cannot run as configured; the message says what to set."""


def say(message: str) -> None:
    print(message, flush=True)


def option(name: str, value: object) -> str:
    """`--name=value`: a value from the environment stays a value, even one starting with `-`
    (`--basket-root -h` would make `-h` an option; `--basket-root=-h` cannot)."""
    return f"--{name}={value}"


def setting(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(name) or default


def whole(env: Mapping[str, str], name: str, default: int, lowest: int = 1) -> int:
    text = setting(env, name, str(default))
    if not (text.isascii() and text.isdigit()) or int(text) < lowest:
        raise StepError(f"{name} must be a whole number of at least {lowest}, not {text!r}")
    return int(text)


def research(env: Mapping[str, str]) -> int:
    """PASSES forced analysis passes over INDEX (each pass a fresh forecast per stock)."""
    index = setting(env, "INDEX", DEFAULT_INDEX)
    passes, workers = whole(env, "PASSES", 2), whole(env, "WORKERS", 10)
    for number in range(1, passes + 1):
        say(f"Research pass {number} of {passes} over {index}")
        status = analyze_stocks.main([option("index", index), "-p", option("workers", workers), "--force-llm"])
        if status != 0:
            return status
    return 0


def latest_basket(docs: Path, index: str | None = None) -> Published | None:
    baskets = published(docs, index)
    return baskets[-1] if baskets else None


def portfolio(env: Mapping[str, str], settings: Settings) -> int:
    """The basket from the research; its path becomes the step output `basket`, its page the summary."""
    index = setting(env, "INDEX", DEFAULT_INDEX)
    top_n, basket_k = whole(env, "TOP_N", 20), whole(env, "BASKET_K", 5)
    status = generate_portfolio.main([option("index", index), option("top-n", top_n), option("basket-k", basket_k)])
    if status != 0:
        return status
    basket = latest_basket(settings.docs_dir, index)
    if basket is None:
        raise StepError(f"generate_portfolio.py published no {index} basket in {settings.docs_dir}/index.md")
    path = settings.docs_dir / "baskets" / f"{basket.stem}.json"
    set_output("basket", str(path), env)
    add_summary((settings.docs_dir / "baskets" / f"{basket.stem}.md").read_text(encoding="utf-8"), env)
    say(f"The new basket: {path}")
    return 0


def restore_prices(env: Mapping[str, str], settings: Settings) -> int:
    """The research workflow's price cache, from its newest completed scheduled or dispatched run on
    this branch (never a pull request's), so the score step asks NSE only for new days. Without one,
    or with a damaged one, the score step asks for every price."""
    target = settings.prices_path
    if target.exists():
        say(f"Using the price cache on this machine: {target}")
        return 0
    branch = setting(env, "GITHUB_REF_NAME", "main")
    try:
        client = GitHub.from_settings(settings, Path.cwd())
        # A run whose deploy or rebalance failed still kept a good cache: completed, not only success.
        artifact = client.latest_artifact(
            RESEARCH_WORKFLOW, PRICE_CACHE_ARTIFACT, branch, ("schedule", "workflow_dispatch"), "completed"
        )
        content = client.download_file(artifact, target.name, PRICE_CACHE_MAX_BYTES) if artifact else None
    except (GitHubError, ConfigError) as error:
        say(f"warning: no price cache ({error}); the score step asks NSE for every price.")
        return 0
    if content is None:
        say("No price cache from an earlier research run: the score step asks NSE for every price.")
        return 0
    make_private_folder(target.parent)
    target.write_bytes(content)
    try:
        cache = PriceCache(target)  # an SQLite file this code can open and migrate, with no damaged page
        try:
            problem = cache.damage()
        finally:
            cache.close()
    except (sqlite3.DatabaseError, StoreError) as error:
        problem = str(error)
    if problem:
        target.unlink()
        say(f"warning: the price cache of the last run is unusable ({problem}); NSE is asked for every price.")
        return 0
    say(f"Restored the price cache of the last research run ({len(content):,} bytes).")
    return 0


def score(env: Mapping[str, str]) -> int:
    """Score every published basket (docs/performance). The scorer failing (NSE refusing its prices,
    most often) is a warning, never a failure: the new basket is published all the same, and the next
    run scores what this one could not."""
    status = score_ledger.main([])
    if status == 0:
        return 0
    warning = (
        f"The scored ledger was not updated: score_ledger.py exited {status} (see the score step's log). "
        "The basket is published all the same; the next run scores it."
    )
    say(f"::warning::{warning}" if in_actions(env) else f"warning: {warning}")
    add_summary(f"**Warning:** {warning}", env)
    return 0


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True)  # noqa: S603, S607 - git, fixed verbs


def publish(env: Mapping[str, str], settings: Settings) -> int:
    """Commit docs/ and push it, after rebasing on the remote's new commits; nothing new is fine."""
    docs = str(settings.docs_dir)
    if git("rev-parse", "--abbrev-ref", "@{upstream}").returncode != 0:
        raise StepError("this checkout's branch has no upstream to push to (git push -u origin BRANCH once)")
    identity = []
    if in_actions(env):  # a fresh runner has no git identity; the commit and a rebase both need one
        identity = ["-c", f"user.name={BOT}", "-c", f"user.email={BOT_EMAIL}"]
    index = setting(env, "INDEX", DEFAULT_INDEX)
    git("add", "--", docs)
    if git("diff", "--cached", "--quiet", "--", docs).returncode != 0:
        done = git(*identity, "commit", "-q", "-m", f"Publish the {index} basket", "--", docs)
        if done.returncode != 0:
            say(done.stdout + done.stderr)
            return 1
    if git("rev-list", "--count", "@{upstream}..HEAD").stdout.strip() == "0":
        say(f"Nothing new in {docs}/ to publish.")
        return 0
    for action, args in (
        ("pull the remote's new commits", [*identity, "pull", "--rebase", "--autostash", "-q"]),
        ("push", ["push", "-q"]),
    ):
        done = git(*args)
        if done.returncode != 0:
            say(done.stdout + done.stderr)
            if in_actions(env):
                say(f"Could not {action}; this runner's commit ends with the job: run the Research workflow again.")
            else:
                say(f"Could not {action}; the commit is kept here: run `git pull --rebase && git push` when you can.")
            return 1
    say(f"{docs}/ committed and pushed.")
    return 0


def site(settings: Settings) -> int:
    out = Path("_site")
    pages = build_site(settings.docs_dir, out)
    say(f"Built {len(pages)} pages into {out}")
    return 0


def mode_of(env: Mapping[str, str]) -> str:
    mode = setting(env, "MODE", "dry-run")
    if mode not in MODES:
        raise StepError(f"MODE must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def dispatch_rebalance(env: Mapping[str, str], settings: Settings) -> int:
    inputs = {"basket": env.get("BASKET", ""), "mode": mode_of(env)}
    GitHub.from_settings(settings, Path.cwd()).dispatch(
        "rebalance.yml", setting(env, "GITHUB_REF_NAME", "main"), inputs
    )
    say(f"Asked the rebalance workflow to run ({inputs['mode']}) on {inputs['basket'] or 'the latest basket'}.")
    return 0


def save_token(env: Mapping[str, str]) -> int:
    """kite-token.yml: the dispatched token file, checked and written for upload as the artifact."""
    try:
        artifact = parse_artifact(env.get("TOKEN_FILE_TEXT", ""), "the dispatched token file")
    except ArtifactError as error:
        raise StepError(f"{error}; run {LOGIN_AND_PUSH} again") from None
    write_artifact(Path(TOKEN_FILE_NAME), artifact)
    say(f"Kept the encrypted token of {artifact.user_id} issued {artifact.issued_at} (usable until 06:00 IST).")
    return 0


def wait_market(
    env: Mapping[str, str],
    settings: Settings,
    clock: Clock = system_clock,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Wait for 09:14 IST of the next session before the token is fetched (START=market-open, the
    default): a basket published on Saturday is traded, or planned, with Monday morning's login.
    Paper runs and START=now go at once."""
    mode, start = mode_of(env), setting(env, "START", "market-open")
    if start not in ("market-open", "now"):
        raise StepError(f"START must be market-open or now, not {start!r}")
    if mode == "paper" or start == "now":
        say(f"{mode}, starting {'now' if start == 'now' else 'at once'}: no need to wait for the market.")
        return 0
    wait_for_order_window(NseCalendar(settings.nse_extra_holidays), clock, sleep, say)
    return 0


def kite_token(env: Mapping[str, str], settings: Settings) -> int:
    """The rebalance's token: a file on the runner host (KITE_TOKEN_FILE), else the newest
    kite-token artifact; imported into the store, which checks it with Kite."""
    if mode_of(env) == "paper":
        say("Paper mode: the paper exchange logs in by itself; no Kite token is needed.")
        return 0
    host_file = env.get("KITE_TOKEN_FILE")
    if host_file:
        path = Path(host_file)
        if not path.is_file():
            raise StepError(f"KITE_TOKEN_FILE is {path}, which does not exist: export it with {LOGIN_COMMAND} --export")
        say(f"Using the token file on this machine: {path}")
    else:
        try:
            client = GitHub.from_settings(settings, Path.cwd())
            artifact = client.latest_artifact(TOKEN_WORKFLOW, TOKEN_ARTIFACT, setting(env, "GITHUB_REF_NAME", "main"))
            if artifact is None:
                raise StepError(
                    f"no {TOKEN_ARTIFACT} artifact from today (it lasts a day): log in with {LOGIN_AND_PUSH}, "
                    f"then run this workflow again"
                )
            path = settings.data_dir / TOKEN_FILE_NAME
            make_private_folder(path.parent)
            path.write_bytes(client.download_file(artifact, TOKEN_FILE_NAME, ARTIFACT_MAX_BYTES))
            path.chmod(0o600)
        except GitHubError as error:
            raise StepError(f"{error}; or keep the token file on this machine and set KITE_TOKEN_FILE") from None
    status = kite_login.main([option("import", path), "--quiet"])
    if status != 0:
        say(f"The token is not usable: log in with {LOGIN_AND_PUSH}, then run this workflow again.")
    return status


def report_path(env: Mapping[str, str], settings: Settings) -> Path:
    return Path(env.get("REPORT_JSON") or settings.data_dir / "logs" / "rebalance-report.json")


def rebalance(env: Mapping[str, str], settings: Settings) -> int:
    """BASKET (a file under docs/baskets, checked by the rebalancer), else the newest basket."""
    mode = mode_of(env)
    basket = env.get("BASKET")
    if not basket:
        latest = latest_basket(settings.docs_dir, env.get("INDEX") or None)
        if latest is None:
            raise StepError(f"no basket in {settings.docs_dir}/baskets yet: run the research first")
        basket = str(settings.docs_dir / "baskets" / f"{latest.stem}.json")
    report = report_path(env, settings)
    make_private_folder(report.parent)  # the report shows the account: kept private
    report.unlink(missing_ok=True)  # an earlier run's: what is there afterwards is this run's
    args = [f"--{mode}", option("basket-root", settings.docs_dir / "baskets"), option("report-json", report)]
    for name in ("TARGET_DEFICIT", "MIN_ORDER_VALUE", "COST_WEIGHT", "DRIFT_BAND", "CAPITAL", "KEEP"):
        if env.get(name):
            args.append(option(name.lower().replace("_", "-"), env[name]))
    if env.get("QUIET", "1") != "0":
        args.append("--quiet")
    reminding = settings.notify_urls and mode != "paper" and not in_actions(env)  # Actions: login-reminder.yml
    if reminding and logged_in(settings) is False:
        notify_login_needed(settings, LOGIN_COMMAND, env=env)
    say(f"Rebalancing to {basket} ({mode})")
    # The basket after `--`: BASKET=-h is a file named -h (refused as outside docs/baskets), not a request for help.
    status = rebalance_portfolio.main([*args, "--", basket])
    if report.is_file():
        notify_rebalance(settings, report, env)
    return status


def logged_in(settings: Settings) -> bool | None:
    """Whether Kite accepts a stored login (or KITE_ACCESS_TOKEN); None when that cannot be told here
    (a setting missing: the rebalance names it)."""
    if settings.kite_access_token.get_secret_value():
        return True
    try:
        settings.require("kite_api_key", "encryption_key")
        tokens = TokenStore(settings.store_path)
    except NiftyError:
        return None
    try:
        fernet = fernet_from_key(settings.encryption_key.get_secret_value())
        return bool(Sessions(settings, tokens, fernet).stored())
    except (NiftyError, KiteException, RequestException):
        return None
    finally:
        tokens.close()


def notify_new_basket(env: Mapping[str, str], settings: Settings) -> int:
    """The published basket (BASKET, else the newest of INDEX) to the owner's channels."""
    basket = env.get("BASKET")
    if not basket:
        latest = latest_basket(settings.docs_dir, setting(env, "INDEX", DEFAULT_INDEX))
        if latest is None:
            raise StepError(f"no basket in {settings.docs_dir}/baskets to tell about: run the research first")
        basket = str(latest.file(settings.docs_dir))
    notify_published(settings, Path(basket), env)
    return 0


def failure_file(settings: Settings, env: Mapping[str, str]) -> Path:
    """This workflow run's note of its failed step (a self-hosted runner keeps DATA_DIR between runs)."""
    return settings.data_dir / "logs" / f"failed-step-{setting(env, 'GITHUB_RUN_ID', 'local')}.json"


def note_failure(name: str, reason: str, settings: Settings, env: Mapping[str, str], told: bool = False) -> None:
    """A failed step, for the owner: sent at once on this machine; in GitHub Actions kept for the job's
    last step (`notify-failure`, run on failure), the one step given the notification secret. A step
    that `told` the owner itself (the rebalance, with its result) is not told again."""
    if not in_actions(env):
        if not told:
            notify_failure(settings, name, reason, env=env)
        return
    path = failure_file(settings, env)
    make_private_folder(path.parent)
    path.write_text(json.dumps({"step": name, "reason": reason, "told": told}), encoding="utf-8")


def notify_failed_step(env: Mapping[str, str], settings: Settings) -> int:
    """notify-failure: the failed step this job noted, else the job's failure in general."""
    path = failure_file(settings, env)
    try:
        noted = json.loads(path.read_text(encoding="utf-8"))
        step, reason, told = str(noted["step"]), str(noted["reason"]), noted.get("told") is True
    except (OSError, ValueError, LookupError, TypeError, AttributeError):
        step, reason, told = (
            setting(env, "GITHUB_JOB", "the job"),
            "a step failed before the pipeline could say why",
            False,
        )
    if not told:
        notify_failure(settings, step, reason, "see the run's log", env)
    path.unlink(missing_ok=True)
    return 0


class LastError(io.TextIOBase):
    """stderr, passed through, remembering the last `error: ...` line a script printed."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.line = ""

    def write(self, text: str) -> int:
        self.stream.write(text)
        for line in text.splitlines():
            if line.startswith("error: "):
                self.line = line.removeprefix("error: ").strip()
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def demo(settings: Settings) -> int:
    """The offline demo: the sample basket on a fresh paper account."""
    make_private_folder(settings.data_dir / "logs")  # where its report goes
    return rebalance_portfolio.main(
        [
            str(Path("examples") / "sample_basket.json"),
            "--paper",
            "--paper-reset",
            "--quiet",
            option("report-json", settings.data_dir / "logs" / "rebalance-report.json"),
        ]
    )


STEPS = (
    "research",
    "portfolio",
    "restore-prices",
    "score",
    "publish",
    "site",
    "dispatch-rebalance",
    "save-token",
    "wait-market",
    "kite-token",
    "rebalance",
    "demo",
    "notify-published",
    "notify-failure",
)


# What the steps read besides the settings, said once for --help.
STEP_ENVIRONMENT = {
    "INDEX": f"the NSE index (default {DEFAULT_INDEX})",
    "PASSES": "research passes over the index (default 2)",
    "WORKERS": "stocks researched at once (default 10)",
    "TOP_N": "candidates for the basket: the N best forecasts (default 20)",
    "BASKET_K": "stocks in the basket (default 5)",
    "BASKET": "the basket to rebalance to (default: the newest published)",
    "MODE": "dry-run (default), live or paper",
    "START": "market-open (default: wait for 09:14 IST) or now",
    "TARGET_DEFICIT": "the rebalancer's --target-deficit",
    "MIN_ORDER_VALUE": "the rebalancer's --min-order-value",
    "COST_WEIGHT": "the rebalancer's --cost-weight",
    "DRIFT_BAND": "the rebalancer's --drift-band (percent)",
    "CAPITAL": "the rebalancer's --capital (rupees)",
    "KEEP": "the rebalancer's --keep (SYM,SYM)",
    "QUIET": "1 (default) never prompts; 0 asks to confirm live orders",
    "REPORT_JSON": "where the rebalance report goes (default DATA_DIR/logs/rebalance-report.json)",
    "KITE_TOKEN_FILE": "the encrypted token file on this machine, instead of the kite-token artifact",
    "TOKEN_FILE_TEXT": "save-token: the dispatched token file's text",
    "GITHUB_REF_NAME": "the branch whose artifacts count (default main)",
    "GITHUB_OUTPUT": "GitHub Actions' step outputs file",
    "GITHUB_STEP_SUMMARY": "GitHub Actions' job summary file",
}


def run_step(name: str, settings: Settings, env: Mapping[str, str] = os.environ) -> int:
    actions = {
        "research": lambda: research(env),
        "portfolio": lambda: portfolio(env, settings),
        "restore-prices": lambda: restore_prices(env, settings),
        "score": lambda: score(env),
        "publish": lambda: publish(env, settings),
        "site": lambda: site(settings),
        "dispatch-rebalance": lambda: dispatch_rebalance(env, settings),
        "save-token": lambda: save_token(env),
        "wait-market": lambda: wait_market(env, settings),
        "kite-token": lambda: kite_token(env, settings),
        "rebalance": lambda: rebalance(env, settings),
        "demo": lambda: demo(settings),
        "notify-published": lambda: notify_new_basket(env, settings),
        "notify-failure": lambda: notify_failed_step(env, settings),
    }
    errors = LastError(sys.stderr)
    try:
        with contextlib.redirect_stderr(errors):
            status = actions[name]()
    except NiftyError as error:
        note_failure(name, str(error), settings, env)
        raise
    # A rebalance that ran told its result already, refusals and all.
    reported = name == "rebalance" and report_path(env, settings).is_file()
    if status != 0:
        note_failure(name, errors.line or f"it exited {status}; its log says why", settings, env, told=reported)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    parser = script_parser(
        __doc__,
        environment=[
            *STEP_ENVIRONMENT,
            "DATA_DIR",
            "DOCS_DIR",
            "GITHUB_TOKEN",
            "GITHUB_REPOSITORY",
            "NOTIFY_URLS",
            "NOTIFY_LEVEL",
        ],
        extra_environment=STEP_ENVIRONMENT,
        examples=["python3 scripts/pipeline.py demo", "INDEX='NIFTY 50' PASSES=1 python3 scripts/pipeline.py research"],
        note="run.sh runs the steps one after another (scripts/run_step.sh keeps each step's log in data/logs/).",
    )
    parser.add_argument("step", choices=STEPS, help="the step to run")
    return run(parser, argv, lambda args: run_step(args.step, load_settings()))
