"""The client's address, as every rate limit and lockout must see it.

`X-Forwarded-For` is written by whoever sent the request, so it is only believed as far as
our own proxies vouch for it: each proxy appends the address it received the request from,
so with N proxies (settings.PROXY_COUNT) the client is the Nth entry from the right.
Everything to the left of it may be made up. With PROXY_COUNT = 0 the header is ignored.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def _clean(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip().strip("[]")))
    except ValueError:
        return None


def client_ip(request: Any) -> str:
    """REMOTE_ADDR, or the address our PROXY_COUNT proxies saw (DRF and Django requests alike)."""
    meta = request.META
    remote = str(meta.get("REMOTE_ADDR") or "")
    proxies = int(getattr(settings, "PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    hops = [hop for hop in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if hop.strip()]
    if len(hops) < proxies:
        # Fewer hops than proxies: the request did not come through all of them (a health
        # check, a misconfiguration); the peer address is the only thing we can trust.
        return remote
    return _clean(hops[-proxies]) or remote
