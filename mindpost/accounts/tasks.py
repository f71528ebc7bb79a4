"""Account jobs (thin: they call services), and the functions that queue them after commit.

Mail is sent here, not in the request, so an answer takes the same time whether or not the
address has an account. Retried for a few minutes if the mail provider is down ("mail" policy).
"""

from __future__ import annotations

from mindpost.accounts import services
from mindpost.core.jobs import app, job, on_commit


@job(name="accounts.send_signup_mail", retry="mail")
def send_signup_mail(*, email: str, new_account: bool) -> None:
    services.signup_mail_send(email=email, new_account=new_account)


@job(name="accounts.send_verification_mail", retry="mail")
def send_verification_mail(*, email: str) -> None:
    services.verification_mail_send(email=email)


@app.periodic(cron="17 3 * * *", periodic_id="accounts-purge-token-families")
@job(name="accounts.purge_token_families", queueing_lock="accounts.purge_token_families")
def purge_token_families(timestamp: int) -> None:
    services.token_families_purge()


def defer_send_signup_mail(*, email: str, new_account: bool) -> None:
    on_commit(lambda: send_signup_mail.defer(email=email, new_account=new_account))


def defer_send_verification_mail(*, email: str) -> None:
    on_commit(lambda: send_verification_mail.defer(email=email))
