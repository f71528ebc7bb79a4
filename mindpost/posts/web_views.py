"""Browser side of the OAuth flows: plain Django views that answer with redirects.

- connect (signed in): start the flow and send the browser to the network.
- callback: the network sends the browser back here; the single-use state says whose
  connection it is, so it also works for the mobile flow (in-app browser, no session),
  which then ends at the app's deep link (X_MOBILE_REDIRECT).
- disconnect: POST only (with CSRF), unlike the reference's GET.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mindpost.accounts.auth import current_user
from mindpost.core.errors import ApiError
from mindpost.posts import connections, networks
from mindpost.posts.models import OAuthClient
from mindpost.posts.networks.base import Network


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


def _network(slug: str) -> Network:
    try:
        return networks.get(slug)
    except ApiError as exc:
        raise Http404("Unknown network") from exc


def _finish_url(*, network: Network, client: str, status: str, code: str) -> str:
    if client == OAuthClient.MOBILE:
        base = settings.X_MOBILE_REDIRECT if network.slug == "x" else settings.LINKEDIN_MOBILE_REDIRECT
        # The reference app reads `status` from its deep link; `connection_status` matches the web.
        return _with_query(base, status=status, connection_status=status, network=network.slug, code=code)
    return _with_query(settings.POSTS_WEB_RETURN_URL, connection_status=status, network=network.slug, code=code)


@login_required
@require_http_methods(["GET", "POST"])
def connect(request: HttpRequest, network: str) -> HttpResponse:
    net = _network(network)
    try:
        url = connections.authorization_start(user=current_user(request), network=net, client=OAuthClient.WEB)
    except ApiError as exc:
        return _Redirect(_finish_url(network=net, client=OAuthClient.WEB, status="error", code=exc.code))
    return _Redirect(url)


@require_GET
def callback(request: HttpRequest, network: str) -> HttpResponse:
    net = _network(network)
    user = request.user if request.user.is_authenticated else None
    result = connections.authorization_complete(
        network=net,
        state=request.GET.get("state", ""),
        code=request.GET.get("code", ""),
        error=request.GET.get("error", ""),
        session_user_id=getattr(user, "pk", None),
    )
    status = "success" if result.ok else "error"
    return _Redirect(_finish_url(network=net, client=result.client, status=status, code=result.code))


@login_required
@require_POST
def disconnect(request: HttpRequest, network: str) -> HttpResponse:
    net = _network(network)
    removed = connections.disconnect(user=current_user(request), network=net)
    code = "disconnected" if removed else "not_connected"
    return _Redirect(_finish_url(network=net, client=OAuthClient.WEB, status="disconnected", code=code))
