"""Browser side of the OAuth flows for X and LinkedIn, at /settings/connections/: plain views that
answer with redirects.

- connect (signed in, POST with CSRF): start the flow, bound to this browser session by a
  nonce, and send the browser to the network.
- callback: the network sends the browser back here with the single-use state.
  A flow started here completes only in the same session (same user, same nonce): otherwise
  anyone could send their authorize link to a victim and get the victim's account linked
  to theirs. A flow started by the API (the phone: no session in its browser) ends on a
  confirmation page naming both accounts instead of linking.
- confirm: that page's POST (CSRF + a one-time secret); links, then the app's deep link.
- disconnect: POST only (with CSRF), unlike the reference's GET.

An unknown network slug is the NotFound of networks.get(), shown by AppErrorMiddleware.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.csp import CSP
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from mindpost.core.errors import AppError
from mindpost.posts import connections, networks
from mindpost.posts.models import OAuthClient
from mindpost.posts.networks.base import Network
from mindpost.web.helpers import hx_redirect, is_htmx, web_user


class _Redirect(HttpResponseRedirect):
    """A redirect that may also go to the app's own deep-link scheme (braindump://...)."""

    def __init__(self, url: str) -> None:
        scheme = urlsplit(url).scheme
        self.allowed_schemes = ["http", "https", *([scheme] if scheme and scheme not in ("javascript", "data") else [])]
        super().__init__(url)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, [parts.query, urlencode(params)]))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _finish_url(*, network: Network, client: str, status: str, code: str) -> str:
    if client == OAuthClient.MOBILE:
        base = settings.X_MOBILE_REDIRECT if network.slug == "x" else settings.LINKEDIN_MOBILE_REDIRECT
        # The reference app reads `status` from its deep link; `connection_status` matches the web.
        return _with_query(base, status=status, connection_status=status, network=network.slug, code=code)
    return _with_query(settings.POSTS_WEB_RETURN_URL, connection_status=status, network=network.slug, code=code)


_NONCES_KEY = "posts_oauth_nonces"


@require_POST  # outermost: a GET is a 405 whether or not anyone is signed in
@login_required
def connect(request: HttpRequest, network: str) -> HttpResponse:
    net = networks.get(network)
    # Binds the flow to this browser: the callback must bring back a session holding it.
    nonce = connections.new_browser_nonce()
    try:
        url = connections.authorization_start(
            user=web_user(request), network=net, client=OAuthClient.WEB, browser_nonce=nonce
        )
    except AppError as exc:
        # Back to the settings page, whose connections panel explains the code.
        back = _finish_url(network=net, client=OAuthClient.WEB, status="error", code=exc.code)
        return hx_redirect(back) if is_htmx(request) else _Redirect(back)
    nonces = [n for n in request.session.get(_NONCES_KEY, []) if isinstance(n, str)]
    request.session[_NONCES_KEY] = [*nonces, nonce][-connections.MAX_SESSION_NONCES :]
    # The CSP's form-action 'self' also applies to where a form POST is redirected, so no 302
    # to the network: HTMX navigates on HX-Redirect, a plain form gets a page that moves on.
    if is_htmx(request):
        return hx_redirect(url)
    return render(request, "web/connection_continue.html", {"network": net, "url": url})


def _refused(request: HttpRequest, *, net: Network, code: str, message: str, status: int) -> HttpResponse:
    context = {"network": net, "code": code, "message": message}
    return render(request, "web/connection_refused.html", context, status=status)


def _allow_form_action(response: HttpResponse, url: str) -> None:
    """Let this page's form be redirected to `url` (e.g. the app's braindump:// deep link).

    The CSP's form-action also covers redirects after a form POST; the default is 'self'.
    """
    parts = urlsplit(url)
    if not parts.scheme:
        return  # a path on this site: 'self' covers it
    source = f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else f"{parts.scheme}:"
    policy: dict[str, Any] = dict(settings.SECURE_CSP or {})
    if policy:
        policy["form-action"] = [*policy.get("form-action", [CSP.SELF]), source]
        response._csp_config = policy  # type: ignore[attr-defined]  # what @csp_override sets


@require_GET
@never_cache
def callback(request: HttpRequest, network: str) -> HttpResponse:
    net = networks.get(network)
    user = request.user if request.user.is_authenticated else None
    result = connections.authorization_complete(
        network=net,
        state=request.GET.get("state", ""),
        code=request.GET.get("code", ""),
        error=request.GET.get("error", ""),
        session_user_id=getattr(user, "pk", None),
        session_nonces=request.session.get(_NONCES_KEY, []) if user else [],
    )
    if result.used_nonce:
        request.session[_NONCES_KEY] = [n for n in request.session.get(_NONCES_KEY, []) if n != result.used_nonce]
    if result.code == "session_mismatch":
        # Not a redirect to settings: the browser here may have no session, or the wrong one.
        message = (
            f"This {net.display_name} connection was started by a different MindPost account or in a "
            "different browser, so nothing was linked. To connect your own account, sign in and "
            "press Connect in Settings."
        )
        return _refused(request, net=net, code=result.code, message=message, status=403)
    if result.pending is not None:
        context = {
            "network": net,
            "pending": result.pending,
            "ttl_minutes": int(connections.CONFIRM_TTL.total_seconds() // 60),
        }
        response = render(request, "web/connection_confirm.html", context)
        _allow_form_action(response, _finish_url(network=net, client=result.client, status="success", code=""))
        return response
    status = "success" if result.ok else "error"
    return _Redirect(_finish_url(network=net, client=result.client, status=status, code=result.code))


@require_POST  # CSRF-protected by the middleware; the form's one-time secret says which flow
@never_cache
def confirm(request: HttpRequest, network: str) -> HttpResponse:
    """The confirmation page's buttons: Link or Cancel. Only this POST creates the connection."""
    net = networks.get(network)
    accept = request.POST.get("action") == "link"
    result = connections.link_confirm(network=net, confirmation=request.POST.get("confirmation", ""), accept=accept)
    if result.code == "invalid_confirmation":
        message = "This confirmation link is not valid. Start connecting again from the app."
        return _refused(request, net=net, code=result.code, message=message, status=400)
    status = "success" if result.ok else "error"
    return _Redirect(_finish_url(network=net, client=result.client, status=status, code=result.code))


@login_required
@require_POST
def disconnect(request: HttpRequest, network: str) -> HttpResponse:
    net = networks.get(network)
    removed = connections.disconnect(user=web_user(request), network=net)
    code = "disconnected" if removed else "not_connected"
    return _Redirect(_finish_url(network=net, client=OAuthClient.WEB, status="disconnected", code=code))
