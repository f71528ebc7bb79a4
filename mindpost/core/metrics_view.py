"""GET /metrics: Prometheus text format, for a scraper that holds the token or sits on a trusted network.

Access (docs/operations.md "Metrics"):
- `Authorization: Bearer <METRICS_TOKEN>`, compared in constant time;
- or a client address (mindpost.core.clientip, so PROXY_COUNT applies) in METRICS_ALLOWED_NETWORKS,
  or in the private and loopback ranges with METRICS_ALLOW_INTERNAL. With PROXY_COUNT = 0 a request
  that carries X-Forwarded-For / Forwarded came through a proxy we were not told about: its peer
  address is the proxy's (internal) one, so the network rule does not apply to it, or a proxy in
  front of the app would open the endpoint to the whole internet;
- with neither configured: open in development (DEBUG), 404 in production, where the endpoint is off.
Refusals use the API's error shape.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from mindpost.core import errors, metrics
from mindpost.core.clientip import client_ip

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Loopback and private ranges (RFC 1918, IPv6 unique local): where a cluster's scraper lives.
INTERNAL_NETWORKS = ("127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")


@lru_cache(maxsize=8)
def _networks(allowed: tuple[str, ...], internal: bool) -> tuple[Network, ...]:
    names = (*allowed, *(INTERNAL_NETWORKS if internal else ()))
    return tuple(ipaddress.ip_network(name, strict=False) for name in names)


def _token_ok(request: HttpRequest, token: str) -> bool:
    scheme, _, given = str(request.META.get("HTTP_AUTHORIZATION", "")).partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def _network_ok(request: HttpRequest, networks: tuple[Network, ...]) -> bool:
    if not networks:
        return False
    if int(settings.PROXY_COUNT) <= 0 and ("HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META):
        return False
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks if network.version == address.version)


def access(request: HttpRequest) -> int:
    """200 when the request may read the metrics, 403 when refused, 404 when the endpoint is off."""
    token = str(settings.METRICS_TOKEN or "")
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS), bool(settings.METRICS_ALLOW_INTERNAL))
    if not token and not networks:
        return 200 if settings.DEBUG else 404
    if (token and _token_ok(request, token)) or _network_ok(request, networks):
        return 200
    return 403


@csrf_exempt  # a POST gets the JSON 405 below, not a CSRF page
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        response = JsonResponse(
            errors.error_body(code="method_not_allowed", detail="Use GET."), status=405, headers={"Allow": "GET, HEAD"}
        )
        return errors.tag_error_code(response, "method_not_allowed")
    allowed = access(request)
    if allowed == 404:
        return errors.json_not_found(request)
    if allowed == 403:
        return errors.tag_error_code(
            JsonResponse(
                errors.error_body(
                    code="permission_denied",
                    detail="Send the metrics token (Authorization: Bearer ...) or scrape from a trusted network.",
                ),
                status=403,
            ),
            "permission_denied",
        )
    body, content_type = metrics.render(accept=str(request.META.get("HTTP_ACCEPT", "")))
    return HttpResponse(body, content_type=content_type)
