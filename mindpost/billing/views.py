"""Billing web pages (session auth + CSRF) under /subscriptions/, the reference's web paths.

Stripe pages are on another origin, and the CSP's form-action 'self' stops a form POST from
being redirected there; so HTMX gets an HX-Redirect (a plain navigation) and a browser
without JavaScript gets a page with a link to continue.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mindpost.billing import selectors, services
from mindpost.core.errors import ApiError


def plan_panel_context(*, user: Any) -> dict[str, Any]:
    """Context for the "billing/_plan_panel.html" partial (the settings page can include it)."""
    summary = selectors.usage_summary(user=user)
    labels = {
        "recordings": "Recordings",
        "generations": "Post generations",
        "chat_messages": "Chat messages",
        "publishes": "Publishes",
    }
    return {
        "billing": summary,
        "billing_rows": [
            {"label": label, "used": summary["used"][metric], "limit": summary["limits"][metric]}
            for metric, label in labels.items()
        ],
        "billing_plans": selectors.plans_purchasable() if summary["billing_enabled"] else [],
        "billing_has_customer": summary["billing_enabled"] and _has_customer(user),
    }


def _has_customer(user: Any) -> bool:
    from mindpost.billing.models import BillingCustomer

    return BillingCustomer.objects.filter(user=user).exclude(stripe_customer_id=None).exists()


def _go_to(request: HttpRequest, url: str, *, title: str) -> HttpResponse:
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return render(request, "billing/continue.html", {"url": url, "title": title})


@login_required
@require_GET
def upgrade(request: HttpRequest) -> HttpResponse:
    return render(request, "billing/upgrade.html", plan_panel_context(user=request.user))


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    try:
        result = services.checkout_start(user=request.user, plan_code=request.POST.get("plan", ""))
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return redirect("billing:upgrade")
    if result.mode == "checkout" and result.url:
        return _go_to(request, result.url, title="Continue to secure checkout")
    plan = result.subscription.plan.name if result.subscription and result.subscription.plan else "the new"
    messages.success(request, f"Your plan was changed to {plan}. The difference is prorated on your invoice.")
    return redirect("billing:upgrade")


@login_required
@require_POST
def portal(request: HttpRequest) -> HttpResponse:
    try:
        url = services.portal_start(user=request.user)
    except ApiError as exc:
        messages.error(request, str(exc.detail))
        return redirect("billing:upgrade")
    return _go_to(request, url, title="Continue to the billing portal")


@login_required
@require_GET
def payment_success(request: HttpRequest) -> HttpResponse:
    messages.success(request, "Thank you! Your subscription is active as soon as Stripe confirms the payment.")
    return redirect("billing:upgrade")


@login_required
@require_GET
def payment_cancel(request: HttpRequest) -> HttpResponse:
    messages.info(request, "Checkout was cancelled; nothing was charged.")
    return redirect("billing:upgrade")
