"""Running account jobs in tests: the way the billing tests do it, from the real job table."""

from __future__ import annotations

from procrastinate.contrib.django.models import ProcrastinateJob

from mindpost.accounts import tasks


def signup_mail_jobs() -> list[ProcrastinateJob]:
    return list(ProcrastinateJob.objects.filter(task_name="accounts.send_signup_mail").order_by("id"))


def run_signup_mail_jobs() -> int:
    """Run every queued signup mail job in this process (each test starts with an empty queue)."""
    jobs = signup_mail_jobs()
    for job in jobs:
        tasks.send_signup_mail(**job.args)
    return len(jobs)
