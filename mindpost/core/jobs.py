"""The Procrastinate app shared by every process, and `job`, the one way to declare a job.

Jobs live in each app's tasks.py, each declared with `@job(...)`, next to a `defer_<job>()`
function that services call to enqueue it once the current transaction commits:

    @job(name="billing.cancel_subscriptions", retry="stripe")
    def cancel_subscriptions(*, subscription_ids: list[str], ...) -> None:
        services.subscriptions_cancel_remote(...)

    def defer_cancel_subscriptions(*, subscription_ids: list[str], ...) -> None:
        on_commit(lambda: cancel_subscriptions.defer(subscription_ids=subscription_ids, ...))

Around every run, `job` closes the thread's stale database connections (with the psycopg pool,
closing hands the connection back to the pool) and logs start, finish and failure with the job id
and task name. Retry policies are named, and read from settings.JOB_RETRY_POLICIES when a job
fails, so a policy can change without touching the tasks.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils.module_loading import import_string
from procrastinate import BaseRetryStrategy, JobContext, RetryStrategy
from procrastinate.contrib.django import app
from procrastinate.jobs import Job
from procrastinate.middleware import TaskMiddleware
from procrastinate.retry import RetryDecision
from procrastinate.tasks import Task

__all__ = ["JobContext", "SettingsRetry", "app", "final_attempt", "job", "on_commit", "policy_runs"]

logger = logging.getLogger(__name__)


# --- retry policies --------------------------------------------------------------------------


def _policy(name: str) -> dict[str, Any]:
    policies = cast(dict[str, dict[str, Any]], settings.JOB_RETRY_POLICIES)
    if name not in policies:
        raise KeyError(f"Unknown job retry policy {name!r}: add it to settings.JOB_RETRY_POLICIES.")
    return policies[name]


def _number(policy: dict[str, Any], key: str, default: int) -> int:
    """A policy number: an int, or the name of the setting that holds it (NOTE_JOB_MAX_ATTEMPTS)."""
    value = policy.get(key, default)
    return int(getattr(settings, value) if isinstance(value, str) else value)


def policy_runs(name: str) -> int:
    """How many times a job of the policy `name` runs at most, the first run included."""
    return max(_number(_policy(name), "runs", 1), 1)


class SettingsRetry(BaseRetryStrategy):
    """The retry policy `name` of settings.JOB_RETRY_POLICIES, read when a job fails.

    A policy is a dict: `runs` (every run counts, the first included; 1 = never retried),
    `exponential_wait` / `wait` / `linear_wait` (seconds, as procrastinate's RetryStrategy) and
    `retry_exceptions` (dotted paths; absent = retry on any exception). A number may also be
    the name of the setting that holds it, so older per-app settings keep working.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def strategy(self) -> RetryStrategy:
        policy = _policy(self.name)
        paths = policy.get("retry_exceptions")
        return RetryStrategy(
            # procrastinate counts retries after the first run; a policy counts every run.
            max_attempts=policy_runs(self.name) - 1,
            wait=_number(policy, "wait", 0),
            linear_wait=_number(policy, "linear_wait", 0),
            exponential_wait=_number(policy, "exponential_wait", 0),
            retry_exceptions=[import_string(path) for path in paths] if paths is not None else None,
        )

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if policy_runs(self.name) <= 1:
            return None  # (procrastinate reads max_attempts=0 as "no limit")
        return self.strategy().get_retry_decision(exception=exception, job=job)

    def __repr__(self) -> str:
        return f"SettingsRetry({self.name!r})"


def final_attempt(context: JobContext, *, policy: str) -> bool:
    """True on the last run the retry policy allows: a job may then give up gracefully."""
    assert context.job is not None
    return context.job.attempts >= policy_runs(policy) - 1


# --- the middleware every job runs in -----------------------------------------------------------


def _describe(context: JobContext) -> dict[str, Any]:
    job_ = context.job
    return {
        "job_id": job_.id if job_ else None,
        "task": job_.task_name if job_ else None,
        "attempt": (job_.attempts + 1) if job_ else None,
    }


def _log_failure(info: dict[str, Any], started: float) -> None:
    logger.exception("job failed", extra={**info, "duration_ms": round((time.monotonic() - started) * 1000)})


def _log_finish(info: dict[str, Any], started: float) -> None:
    logger.info("job finished", extra={**info, "duration_ms": round((time.monotonic() - started) * 1000)})


def _run_sync(call_next: Callable[[], Any], context: JobContext, worker: Any) -> Any:
    """Runs in the worker thread that runs the task, so it closes that thread's connection."""
    info = _describe(context)
    logger.info("job started", extra=info)
    started = time.monotonic()
    close_old_connections()  # a connection that died while the thread was idle is dropped, not used
    try:
        result = call_next()
    except BaseException:
        _log_failure(info, started)
        raise
    finally:
        close_old_connections()  # back to the pool: an idle worker thread must not hold one
    _log_finish(info, started)
    return result


async def _run_async(call_next: Callable[[], Any], context: JobContext, worker: Any) -> Any:
    """Async jobs use the ORM through sync_to_async, whose threads close their own connections."""
    info = _describe(context)
    logger.info("job started", extra=info)
    started = time.monotonic()
    try:
        result = await call_next()
    except BaseException:
        _log_failure(info, started)
        raise
    _log_finish(info, started)
    return result


# --- the decorator ------------------------------------------------------------------------------


def job(
    *,
    name: str,
    queue: str = "default",
    retry: str | None = None,
    lock: str | None = None,
    queueing_lock: str | None = None,
    pass_context: bool = False,
    priority: int = 0,
) -> Callable[[Callable[..., Any]], Task[..., Any, ...]]:
    """Declare a job: procrastinate's `app.task` plus connection handling, logging and the
    named retry policy `retry` (a key of settings.JOB_RETRY_POLICIES; None = never retried)."""

    def decorate(func: Callable[..., Any]) -> Task[..., Any, ...]:
        middleware: TaskMiddleware = _run_async if inspect.iscoroutinefunction(func) else _run_sync
        options: dict[str, Any] = {
            "name": name,
            "queue": queue,
            "retry": SettingsRetry(retry) if retry else False,
            "lock": lock,
            "queueing_lock": queueing_lock,
            "priority": priority,
            "task_middleware": [middleware],
        }
        task: Task[..., Any, ...] = (
            app.task(pass_context=True, **options)(func) if pass_context else app.task(**options)(func)
        )
        return task

    return decorate


def on_commit(callback: Callable[[], object]) -> None:
    """Run `callback` (an enqueue) once the current transaction commits, or now outside one.

    Robust: a queue that can't be reached must not turn a committed write into an error; the
    periodic sweeps re-queue what was missed.
    """
    transaction.on_commit(callback, robust=True)
