"""Server URLs typed by users (a Mastodon instance, a Bluesky service), checked before we call them.

The server makes requests to whatever URL a user enters, so an unchecked URL would let anyone
probe the operator's private network (SSRF). Only https URLs of hosts whose every address is
public are accepted, unless POSTS_ALLOW_PRIVATE_INSTANCES is set (tests with loopback fakes, a
company-internal instance). A hostname that resolves to a public address now could resolve
elsewhere later (DNS rebinding); the check narrows the hole, it doesn't close it.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

from mindpost.core.errors import Invalid


def _invalid(field: str, message: str) -> Invalid:
    return Invalid(message, code="invalid_instance_url", fields={field: [message]})


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (a seam: the schema fuzzer must never reach real DNS)."""
    return [str(info[4][0]) for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def normalise(url: str, *, field: str = "instance_url") -> str:
    """`https://host[:port]` for a URL or bare host name a user typed; raises Invalid otherwise."""
    raw = (url or "").strip()
    if not raw:
        raise _invalid(field, "Enter the address of your server, for example mastodon.social.")
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise _invalid(field, "This is not a valid server address.") from exc
    host = (parts.hostname or "").rstrip(".").lower()
    allow_private = bool(settings.POSTS_ALLOW_PRIVATE_INSTANCES)
    if parts.scheme not in ("https", "http") or not host or parts.username or parts.password:
        raise _invalid(field, "This is not a valid server address.")
    if parts.scheme != "https" and not allow_private:
        raise _invalid(field, "The server must use https.")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise _invalid(field, "Enter only the server's address, without a path.")
    if not allow_private:
        try:
            addresses = resolve(host, port or 443)
        except (OSError, UnicodeError) as exc:
            raise _invalid(field, f"The server {host} could not be found.") from exc
        if not addresses or not all(_is_public(address) for address in addresses):
            raise _invalid(field, "This server address is not allowed.")
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise _invalid(field, "This is not a valid server address.") from exc
    netloc = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}"
