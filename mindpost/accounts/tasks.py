"""Account jobs (thin: they call services)."""

from __future__ import annotations

from procrastinate import RetryStrategy

from mindpost.accounts import services
from mindpost.core.jobs import app


# Mail is sent here, not in the request, so the registration answer takes the same time whether
# or not the address has an account. Retried for a few minutes if the mail provider is down.
@app.task(name="accounts.send_signup_mail", retry=RetryStrategy(max_attempts=6, exponential_wait=5))
def send_signup_mail(*, email: str, new_account: bool) -> None:
    services.signup_mail_send(email=email, new_account=new_account)


@app.periodic(cron="17 3 * * *", periodic_id="accounts-purge-token-families")
@app.task(name="accounts.purge_token_families", queueing_lock="accounts.purge_token_families")
def purge_token_families(timestamp: int) -> None:
    services.token_families_purge()
