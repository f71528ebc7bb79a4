"""The one place that builds the Stripe client, so every call shares base URL, timeout and retries."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings

from mindpost.core.errors import AppError, Unavailable, UpstreamFailed


def billing_enabled() -> bool:
    """Billing is on exactly when a Stripe secret key is configured."""
    return bool(settings.STRIPE_SECRET_KEY)


def get_client() -> stripe.StripeClient:
    # Built per call: cheap, and tests can change STRIPE_API_BASE with override_settings.
    return stripe.StripeClient(
        settings.STRIPE_SECRET_KEY,
        base_addresses={"api": settings.STRIPE_API_BASE},
        max_network_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        http_client=stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS),
    )


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict from a StripeObject (or a dict already), for code that must not care which."""
    if isinstance(obj, stripe.StripeObject):
        return obj.to_dict()
    return dict(obj or {})


def stripe_unavailable(exc: stripe.StripeError) -> AppError:
    """Map a failed Stripe call to a stable API error (never a 500 with Stripe's internals)."""
    if isinstance(exc, stripe.InvalidRequestError):
        return UpstreamFailed("Stripe refused the request.", code="stripe_error")
    return Unavailable("The payment provider is unavailable; try again shortly.", code="stripe_unavailable")
