"""Settings forms for the networks that connect with a form (see posts/api_networks.py for the API):

- Bluesky: handle + app password (+ optional service URL) → connected at once, back to Settings.
- Mastodon: instance URL → the instance's authorize page; its callback is the shared
  /settings/connections/mastodon/callback/ (web/views/connections.py), bound to this browser
  session by the same nonce as the X and LinkedIn buttons.
Failures go back to Settings with `connection_status=error&code=...`, explained by the panel.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from mindpost.core.errors import AppError
from mindpost.posts import connections, instances, networks
from mindpost.posts.models import OAuthClient
from mindpost.web.helpers import hx_redirect, is_htmx, web_user
from mindpost.web.views.connections import _NONCES_KEY, _finish_url, _Redirect


def _back(request: HttpRequest, *, slug: str, status: str, code: str) -> HttpResponse:
    url = _finish_url(network=networks.get(slug), client=OAuthClient.WEB, status=status, code=code)
    return hx_redirect(url) if is_htmx(request) else _Redirect(url)


@require_POST
@login_required
def bluesky_connect(request: HttpRequest) -> HttpResponse:
    network = networks.get("bluesky")
    given = request.POST.get("service_url", "").strip()
    try:
        service = instances.normalise(given, field="service_url") if given else settings.BLUESKY_SERVICE_URL
        connections.password_connect(
            user=web_user(request),
            network=network,
            identifier=request.POST.get("identifier", "")[:253],
            password=request.POST.get("app_password", "")[:64],
            base_url=service,
        )
    except AppError as exc:
        return _back(request, slug=network.slug, status="error", code=exc.code)
    return _back(request, slug=network.slug, status="success", code="connected")


@require_POST
@login_required
def mastodon_connect(request: HttpRequest) -> HttpResponse:
    network = networks.get("mastodon")
    nonce = connections.new_browser_nonce()
    try:
        instance = instances.normalise(request.POST.get("instance_url", ""))
        url = connections.authorization_start(
            user=web_user(request), network=network, client=OAuthClient.WEB, browser_nonce=nonce, base_url=instance
        )
    except AppError as exc:
        return _back(request, slug=network.slug, status="error", code=exc.code)
    nonces = [n for n in request.session.get(_NONCES_KEY, []) if isinstance(n, str)]
    request.session[_NONCES_KEY] = [*nonces, nonce][-connections.MAX_SESSION_NONCES :]
    if is_htmx(request):
        return hx_redirect(url)
    # The CSP's form-action 'self' forbids a 302 to the instance after a form POST.
    return render(request, "web/connection_continue.html", {"network": network, "url": url})
