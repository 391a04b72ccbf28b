"""The steps run.sh and the GitHub workflows run, one function each, configured by the environment.

Workflows pass their inputs and secrets as environment variables (never inside `run:` lines), and
run.sh exports the same names, so a step behaves the same on a laptop and in GitHub Actions:

  INDEX, PASSES, WORKERS, TOP_N, BASKET_K    research and portfolio
  BASKET, MODE, START, TARGET_DEFICIT, MIN_ORDER_VALUE, QUIET, REPORT_JSON    rebalance
  KITE_TOKEN_FILE, TOKEN_FILE_TEXT    the rebalance job's Kite token
  GITHUB_REF_NAME    the branch the workflow runs on, whose artifacts count (GitHub's API: Settings)
  GITHUB_OUTPUT, GITHUB_STEP_SUMMARY    what GitHub Actions reads back

Steps run from the repository's root (run.sh and the workflows start there): its scripts, its git
checkout and its docs/ are the ones used.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from niftybaskets.actions import add_summary, in_actions, set_output
from niftybaskets.config import ConfigError, Settings
from niftybaskets.encryption import ARTIFACT_MAX_BYTES, ArtifactError, parse_artifact, write_artifact
from niftybaskets.github import (
    PRICE_CACHE_ARTIFACT,
    RESEARCH_WORKFLOW,
    TOKEN_ARTIFACT,
    TOKEN_FILE_NAME,
    TOKEN_WORKFLOW,
    GitHub,
    GitHubError,
)
from niftybaskets.kite.sessions import LOGIN_COMMAND
from niftybaskets.market import Clock, NseCalendar, system_clock, wait_for_order_window
from niftybaskets.site.baskets import Published
from niftybaskets.site.build import build_site
from niftybaskets.site.index_page import published
from niftybaskets.store import Store, StoreError, make_private_folder

DEFAULT_INDEX = "NIFTY SMALLCAP 250"
MODES = ("dry-run", "live", "paper")
LOGIN_AND_PUSH = f"{LOGIN_COMMAND} --push"
BOT = "github-actions[bot]"
BOT_EMAIL = "41898282+github-actions[bot]@users.noreply.github.com"
PRICE_CACHE_MAX_BYTES = 500_000_000


class StepError(RuntimeError):
    """A step cannot run as configured; the message says what to set."""


def say(message: str) -> None:
    print(message, flush=True)


def script(name: str, *args: str) -> int:
    return subprocess.call([sys.executable, str(Path("scripts") / name), *args])  # noqa: S603 - our own scripts


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
        status = script("analyze_stocks.py", option("index", index), "-p", option("workers", workers), "--force-llm")
        if status != 0:
            return status
    return 0


def latest_basket(docs: Path, index: str | None = None) -> Published | None:
    for basket in published(docs):
        if index is None or basket.index == index:
            return basket
    return None


def portfolio(env: Mapping[str, str], settings: Settings) -> int:
    """The basket from the research; its path becomes the step output `basket`, its page the summary."""
    index = setting(env, "INDEX", DEFAULT_INDEX)
    top_n, basket_k = whole(env, "TOP_N", 20), whole(env, "BASKET_K", 5)
    status = script(
        "generate_portfolio.py", option("index", index), option("top-n", top_n), option("basket-k", basket_k)
    )
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
        cache = Store(target)  # an SQLite file this code can open and migrate, with no damaged page
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
    status = script("score_ledger.py")
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
    status = script("kite_login.py", option("import", path), "--quiet")
    if status != 0:
        say(f"The token is not usable: log in with {LOGIN_AND_PUSH}, then run this workflow again.")
    return status


def rebalance(env: Mapping[str, str], settings: Settings) -> int:
    """BASKET (a file under docs/baskets, checked by the rebalancer), else the newest basket."""
    mode = mode_of(env)
    basket = env.get("BASKET")
    if not basket:
        latest = latest_basket(settings.docs_dir, env.get("INDEX") or None)
        if latest is None:
            raise StepError(f"no basket in {settings.docs_dir}/baskets yet: run the research first")
        basket = str(settings.docs_dir / "baskets" / f"{latest.stem}.json")
    report = Path(env.get("REPORT_JSON") or settings.data_dir / "logs" / "rebalance-report.json")
    make_private_folder(report.parent)  # the report shows the account: kept private
    args = [f"--{mode}", option("basket-root", settings.docs_dir / "baskets"), option("report-json", report)]
    for name in ("TARGET_DEFICIT", "MIN_ORDER_VALUE"):
        if env.get(name):
            args.append(option(name.lower().replace("_", "-"), env[name]))
    if env.get("QUIET", "1") != "0":
        args.append("--quiet")
    say(f"Rebalancing to {basket} ({mode})")
    # The basket after `--`: BASKET=-h is a file named -h (refused as outside docs/baskets), not a request for help.
    return script("rebalance_portfolio.py", *args, "--", basket)


def demo(settings: Settings) -> int:
    """The offline demo: the sample basket on a fresh paper account."""
    make_private_folder(settings.data_dir / "logs")  # where its report goes
    return script(
        "rebalance_portfolio.py",
        str(Path("examples") / "sample_basket.json"),
        "--paper",
        "--paper-reset",
        "--quiet",
        option("report-json", settings.data_dir / "logs" / "rebalance-report.json"),
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
)


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
    }
    return actions[name]()
