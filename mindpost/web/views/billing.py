"""Plan and payment pages under /subscriptions/, the reference's web paths (session auth + CSRF).

Stripe pages are on another origin, and the CSP's form-action 'self' stops a form POST from
being redirected there; so HTMX gets an HX-Redirect (a plain navigation) and a browser
without JavaScript gets a page with a link to continue.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mindpost.billing import selectors as billing_selectors
from mindpost.billing import services as billing_services
from mindpost.core.errors import AppError
from mindpost.web.helpers import hx_redirect, is_htmx, web_user


def _go_to(request: HttpRequest, url: str, *, title: str) -> HttpResponse:
    if is_htmx(request):
        return hx_redirect(url)
    return render(request, "web/billing_continue.html", {"url": url, "title": title})


@login_required
@require_GET
def upgrade(request: HttpRequest) -> HttpResponse:
    return render(request, "web/upgrade.html", billing_selectors.plan_panel_context(user=web_user(request)))


@login_required
@require_POST
def checkout(request: HttpRequest) -> HttpResponse:
    try:
        result = billing_services.checkout_start(user=web_user(request), plan_code=request.POST.get("plan", ""))
    except AppError as exc:
        # Shown on the plan page it came from, where the choice can be made again.
        messages.error(request, exc.detail)
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
        url = billing_services.portal_start(user=web_user(request))
    except AppError as exc:
        messages.error(request, exc.detail)
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
