"""login-reminder.yml's job, run as a runner runs it in a scratch clone of the fork, against the fake
GitHub and a json:// webhook standing in for the owner's phone; and where the NOTIFY_URLS secret
may go in every workflow."""

from __future__ import annotations

from datetime import datetime

import yaml

from niftybaskets.market import IST, NseCalendar
from niftybaskets.notify import why_no_reminder
from tests.workflows.runner import Runner
from tests.workflows.test_hygiene import WORKFLOW_PATHS, jobs_of, load, steps_of
from tests.workflows.test_workflow_steps import WORKFLOWS, context, host

REMINDER = "login-reminder.yml"
SECRET = "${{ secrets.NOTIFY_URLS }}"


def remind(scratch, github, tmp_path, secrets: dict[str, str]):
    runner = Runner(scratch.checkout, context(github, secrets=secrets), host(tmp_path))
    return runner.run_job(scratch.checkout / WORKFLOWS / REMINDER, "remind")


def test_the_reminder_workflow_stays_quiet_once_the_login_is_pushed_and_without_channels(
    scratch, github, phone, tmp_path
):
    github.add_run("kite-token.yml", {"kite-token": {"kite-token.json": b"{}"}})  # kite_login.py --push, just now
    job = remind(scratch, github, tmp_path, {"NOTIFY_URLS": phone.url})
    assert job.ok, job.log
    assert "No reminder: a Kite login was pushed at" in job.step("Remind me when nobody has logged in").output
    assert phone.received == []
    assert f"Bearer {github.token}" in github.authorizations  # it asked the fork with the job's token

    unset = remind(scratch, github, tmp_path, {})  # a fork that never set NOTIFY_URLS: no failed run each weekday
    assert unset.ok, unset.log
    assert "NOTIFY_URLS is not set: no reminder to send" in unset.log


def test_the_reminder_workflow_reminds_when_nobody_has_logged_in_today(scratch, github, phone, tmp_path):
    # The job runs on the real clock: on a weekday after 06:00 IST it reminds, on other days it says why not.
    now = datetime.now(IST)
    job = remind(scratch, github, tmp_path, {"NOTIFY_URLS": phone.url})
    assert job.ok, job.log
    why_not = why_no_reminder(NseCalendar(), now, None)
    if why_not is None:
        [posted] = phone.received
        assert posted["title"] == "Kite login needed" and "python3 scripts/kite_login.py --push" in posted["message"]
        assert "https://owner.github.io/niftybaskets/" in posted["message"]
        assert "Notification sent to json #1." in job.summary
    else:
        assert f"No reminder: {why_not}." in job.log and phone.received == []
    assert phone.url not in job.log


def test_the_reminder_runs_on_weekday_mornings_before_the_rebalance():
    workflow = load(next(path for path in WORKFLOW_PATHS if path.name == REMINDER))
    on = workflow.get("on", workflow.get(True))
    assert on["schedule"] == [{"cron": "15 3 * * 1-5"}]  # 08:45 IST
    assert "workflow_dispatch" in on
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read", "actions": "read"}


def test_notify_urls_reaches_only_the_steps_that_send():
    """Never a workflow's or a job's env (every step would see it), only the env of a step that sends;
    in the reminder workflow, the one step that runs notify.py."""
    for path in WORKFLOW_PATHS:
        workflow = load(path)
        assert SECRET not in yaml.safe_dump(workflow.get("env") or {}), (
            f"{path.name}: NOTIFY_URLS in the workflow's env"
        )
        for job_id, job in jobs_of(path).items():
            assert SECRET not in str(job.get("env") or {}), f"{path.name} job {job_id}: NOTIFY_URLS in the job's env"
            for step in steps_of(job):
                if SECRET in str(step.get("env") or {}):
                    assert "run" in step, f"{path.name} job {job_id}: NOTIFY_URLS given to an action"
    [job] = jobs_of(next(path for path in WORKFLOW_PATHS if path.name == REMINDER)).values()
    given = [step["run"] for step in steps_of(job) if SECRET in str(step.get("env") or {})]
    assert given == [".venv/bin/python scripts/notify.py --login-reminder"]
