"""allauth's hooks for MindPost: mail that names the product and links to SITE_URL, and the
browser's time zone kept at sign-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import available_timezones

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

PRODUCT_NAME = "MindPost"


@dataclass(frozen=True)
class ProductSite:
    """Stands in for allauth's `current_site` in mail templates: without django.contrib.sites
    allauth names the request's Host ("127.0.0.1:8000"); mail should name the product."""

    name: str
    domain: str


def product_site() -> ProductSite:
    return ProductSite(name=PRODUCT_NAME, domain=urlsplit(settings.SITE_URL).netloc or settings.SITE_URL)


def site_link(path: str) -> str:
    """`path` on the public address: a link in mail must not depend on the Host a client sent."""
    return settings.SITE_URL + path


def browser_time_zone(value: Any) -> str | None:
    """The zone the sign-up page read from the browser (Intl), if it is a real IANA zone."""
    zone = str(value or "").strip()
    return zone if zone and zone in available_timezones() else None


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        ctx: dict[str, Any] = {
            "request": allauth_context.request,
            "email": email,
            "product_name": PRODUCT_NAME,
            "site_url": settings.SITE_URL,
            **context,
        }
        # After the caller's context: allauth's own callers never pass a better one.
        ctx["current_site"] = product_site()
        self.render_mail(template_prefix, email, ctx).send()

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        return site_link(reverse("account_confirm_email", args=[emailconfirmation.key]))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return site_link(urlsplit(super().get_reset_password_from_key_url(key)).path)

    def save_user(self, request: HttpRequest, user: Any, form: Any, commit: bool = True) -> Any:
        # The sign-up page sends the browser's zone in a hidden field (static/web/timezone.js);
        # anything that is not an IANA zone leaves the model's default (UTC).
        zone = browser_time_zone(form.data.get("timezone") if form is not None else None)
        if zone:
            user.timezone = zone
        return super().save_user(request, user, form, commit=commit)
