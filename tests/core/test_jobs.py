"""mindpost.core.jobs: the `job` decorator (connections, logging, retry policy from settings),
checked in isolation and with a real Procrastinate worker against the test database."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any, cast

import pytest
from django.db import connection as db_connection
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateJob
from procrastinate.retry import RetryDecision

from mindpost.core import jobs
from mindpost.core.jobs import SettingsRetry, app, job, policy_runs

QUEUE = "tests_core_jobs"
runs: list[dict[str, Any]] = []


@job(name="tests.core.flaky", queue=QUEUE, retry="tests_flaky", pass_context=True)
def flaky(context: jobs.JobContext, *, fail_times: int) -> None:
    """Fails `fail_times` runs, then succeeds; records what each run saw."""
    assert context.job is not None
    runs.append(
        {
            "attempt": context.job.attempts,
            "connection_open_at_start": db_connection.connection is not None,
            "final": jobs.final_attempt(context, policy="tests_flaky"),
        }
    )
    db_connection.ensure_connection()  # the job uses the database: the middleware must give it back
    if len(runs) <= fail_times:
        raise ValueError("not yet")


def _context(*, job_id: int = 7, task: str = "tests.core.probe", attempts: int = 0) -> Any:
    return SimpleNamespace(job=SimpleNamespace(id=job_id, task_name=task, attempts=attempts))


def _job_with(attempts: int) -> Any:
    return cast(Any, SimpleNamespace(attempts=attempts))


def _wait(decision: RetryDecision | None) -> float:
    """Seconds until the retry a decision asks for."""
    assert decision is not None
    assert decision.retry_at is not None
    return (decision.retry_at - timezone.now()).total_seconds()


# --- the middleware, in isolation ------------------------------------------------------------


def test_sync_jobs_close_connections_before_and_after(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(jobs, "close_old_connections", lambda: calls.append("close"))

    def work() -> str:
        calls.append("run")
        return "done"

    assert jobs._run_sync(work, _context(), None) == "done"
    assert calls == ["close", "run", "close"]

    calls.clear()

    def boom() -> None:
        calls.append("run")
        raise RuntimeError("broken")

    with pytest.raises(RuntimeError):
        jobs._run_sync(boom, _context(), None)
    assert calls == ["close", "run", "close"]  # given back even when the job fails


def test_jobs_log_start_finish_and_failure_with_id_and_task(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside the test's transaction a real close would end it; the worker test closes for real.
    monkeypatch.setattr(jobs, "close_old_connections", lambda: None)
    caplog.set_level(logging.INFO, logger="mindpost.core.jobs")
    jobs._run_sync(lambda: None, _context(job_id=41, task="tests.core.ok"), None)
    with pytest.raises(ValueError, match="invalid literal"):
        jobs._run_sync(lambda: int("x"), _context(job_id=42, task="tests.core.bad", attempts=2), None)

    ours = [record for record in caplog.records if record.name == "mindpost.core.jobs"]
    records = [(r.getMessage(), getattr(r, "job_id", None), getattr(r, "task", None)) for r in ours]
    assert records == [
        ("job started", 41, "tests.core.ok"),
        ("job finished", 41, "tests.core.ok"),
        ("job started", 42, "tests.core.bad"),
        ("job failed", 42, "tests.core.bad"),
    ]
    failed = ours[-1]
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is not None
    assert failed.attempt == 3  # type: ignore[attr-defined]
    assert isinstance(failed.duration_ms, int)  # type: ignore[attr-defined]


# --- retry policies ----------------------------------------------------------------------------


def test_retry_policy_is_read_from_settings_when_a_job_fails(settings: Any) -> None:
    settings.JOB_RETRY_POLICIES = {
        "tests_flaky": {"runs": 3, "exponential_wait": 2, "retry_exceptions": ["builtins.ValueError"]}
    }
    strategy = SettingsRetry("tests_flaky")
    assert _wait(strategy.get_retry_decision(exception=ValueError(), job=_job_with(0))) == pytest.approx(2, abs=1)
    assert _wait(strategy.get_retry_decision(exception=ValueError(), job=_job_with(1))) == pytest.approx(4, abs=1)
    assert strategy.get_retry_decision(exception=ValueError(), job=_job_with(2)) is None  # the third run was the last
    assert strategy.get_retry_decision(exception=TypeError(), job=_job_with(0)) is None  # not a retried error

    # Changed in settings, the same task follows the new policy: nothing is fixed at import.
    settings.JOB_RETRY_POLICIES = {"tests_flaky": {"runs": 1}}
    assert strategy.get_retry_decision(exception=ValueError(), job=_job_with(0)) is None

    settings.JOB_RETRY_POLICIES = {}
    with pytest.raises(KeyError, match="tests_flaky"):
        strategy.get_retry_decision(exception=ValueError(), job=_job_with(0))


def test_existing_per_app_settings_still_drive_their_policy(settings: Any) -> None:
    settings.NOTE_JOB_MAX_ATTEMPTS = 2
    settings.NOTE_JOB_RETRY_BASE_SECONDS = 3
    assert policy_runs("notes") == 2
    strategy = SettingsRetry("notes")
    from mindpost.ai.types import TransientAIError

    assert _wait(strategy.get_retry_decision(exception=TransientAIError("busy"), job=_job_with(0))) == pytest.approx(
        3, abs=1
    )
    assert strategy.get_retry_decision(exception=TransientAIError("busy"), job=_job_with(1)) is None
    assert strategy.get_retry_decision(exception=KeyError("bug"), job=_job_with(0)) is None


def test_every_job_of_every_app_is_declared_with_the_decorator() -> None:
    ours = {
        name: task
        for name, task in app.tasks.items()
        if name.split(".")[0] in {"accounts", "billing", "notes", "posts"}
    }
    assert {"accounts.send_signup_mail", "billing.cancel_subscriptions", "notes.process_note", "posts.publish"} <= set(
        ours
    )
    for name, task in ours.items():
        assert task.task_middleware in ([jobs._run_sync], [jobs._run_async]), name
        assert task.retry_strategy is None or isinstance(task.retry_strategy, SettingsRetry), name


# --- with a real worker --------------------------------------------------------------------------


def _run_worker() -> None:
    """A real worker (its own async connection to the test database) until the queue is empty."""
    with app.replace_connector(app.connector.get_worker_connector()):  # type: ignore[attr-defined]
        app.run_worker(queues=[QUEUE], wait=False, install_signal_handlers=False, listen_notify=False)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_by_policy_and_gives_connections_back(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.JOB_RETRY_POLICIES = {"tests_flaky": {"runs": 3, "retry_exceptions": ["builtins.ValueError"]}}
    caplog.set_level(logging.INFO, logger="mindpost.core.jobs")
    runs.clear()
    job_id = flaky.defer(fail_times=2)

    _run_worker()

    assert [run["attempt"] for run in runs] == [0, 1, 2]
    assert [run["final"] for run in runs] == [False, False, True]
    # Each run starts without the connection the previous run used: it went back to the pool.
    assert [run["connection_open_at_start"] for run in runs] == [False, False, False]
    assert ProcrastinateJob.objects.get(pk=job_id).status == "succeeded"
    messages = [(r.getMessage(), getattr(r, "job_id", None)) for r in caplog.records if r.name == "mindpost.core.jobs"]
    assert messages.count(("job failed", job_id)) == 2
    assert messages.count(("job finished", job_id)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_stops_when_the_policy_is_used_up(settings: Any) -> None:
    settings.JOB_RETRY_POLICIES = {"tests_flaky": {"runs": 2}}
    runs.clear()
    job_id = flaky.defer(fail_times=5)

    _run_worker()

    assert [run["attempt"] for run in runs] == [0, 1]
    assert ProcrastinateJob.objects.get(pk=job_id).status == "failed"
