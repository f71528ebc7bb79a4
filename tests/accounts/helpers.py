"""Running account jobs in tests: the way the billing tests do it, from the real job table.

Each runner runs the queued (`todo`) jobs once, in this process, and marks them done, so
calling it again runs only what was queued since."""

from __future__ import annotations

from django.db import connection
from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.core.jobs import app


def signup_mail_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name="accounts.send_signup_mail").order_by("id"))


def verification_mail_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name="accounts.send_verification_mail").order_by("id"))


def _run(task_name_prefix: str) -> int:
    jobs = list(ProcrastinateJob.objects.filter(task_name__startswith=task_name_prefix, status="todo").order_by("id"))
    for job in jobs:
        app.tasks[job.task_name](**job.args)
        with connection.cursor() as cursor:  # the model is read-only: procrastinate owns the table
            cursor.execute("UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = %s", [job.id])
    return len(jobs)


def run_signup_mail_jobs() -> int:
    """Run the queued registration mail jobs."""
    return _run("accounts.send_signup_mail")


def run_verification_mail_jobs() -> int:
    """Run the queued verification-link jobs (POST /api/auth/verify-email/resend/)."""
    return _run("accounts.send_verification_mail")


def run_account_jobs() -> int:
    """Run every queued account job (all of its mail)."""
    return _run("accounts.")
