"""The SSRF guard: webhook receivers must be public HTTPS servers.

Checked twice. When an endpoint is saved, the URL's scheme and host (an address literal, or
the addresses its name resolves to now); and at every delivery, after resolving the name
again, the delivery connects to the very address that was checked (gamify/webhooks/transport.py)
— a name that resolves to 127.0.0.1 later, or one whose records alternate, is refused then.

`WEBHOOKS_ALLOW_PRIVATE_NETWORKS=true` lifts the address checks (the demo and the tests, whose
receivers listen on loopback); `WEBHOOKS_ALLOW_HTTP=true` allows plain `http://` URLs.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ReceiverRefused(Exception):
    """The receiver's address is not one deliveries may go to; the message says why."""


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why deliveries may not go to this address, or None when they may."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if ip.is_loopback:
        return f"{ip} is a loopback address"
    if ip.is_link_local:
        # 169.254.169.254 and fe80::/10: cloud metadata services live here.
        return f"{ip} is a link-local address (cloud metadata services live there)"
    if ip.is_private or ip.is_reserved or ip.is_unspecified or ip.is_multicast:
        return f"{ip} is a private or reserved address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def _private_allowed() -> bool:
    return bool(settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS)


def url_error(url: str) -> str | None:
    """What is wrong with a receiver URL, checked when an endpoint is saved (None: fine).

    A name that does not resolve now is accepted: it is resolved and checked at delivery."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        return "Not a valid URL."
    schemes = {"https", "http"} if settings.WEBHOOKS_ALLOW_HTTP else {"https"}
    if parts.scheme not in schemes:
        return (
            "Must be an https:// URL."
            if not settings.WEBHOOKS_ALLOW_HTTP
            else "Must be an http:// or https:// URL."
        )
    if not parts.hostname:
        return "The URL has no host."
    if parts.username is not None or parts.password is not None:
        return "Put no credentials in the URL; verify the signature instead."
    if _private_allowed():
        return None
    host = parts.hostname
    if host == "localhost" or host.endswith(".localhost"):
        return "localhost is a loopback address; receivers must be on a public network."
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = _resolve(host, parts.port or 443, strict=False)
    for ip in addresses:
        if reason := forbidden_reason(ip):
            return f"{reason}; receivers must be on a public network."
    return None


def _resolve(host: str, port: int, *, strict: bool) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        if strict:
            raise ReceiverRefused(f"{host} does not resolve ({exc})") from exc
        return []
    seen: list[IPAddress] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def checked_address(host: str, port: int) -> str:
    """The address a delivery to `host` connects to: resolved now, every address the name
    has checked (one bad record refuses the name: no lottery between them)."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [literal] if literal is not None else _resolve(host, port, strict=True)
    if not addresses:
        raise ReceiverRefused(f"{host} does not resolve")
    if not _private_allowed():
        for ip in addresses:
            if reason := forbidden_reason(ip):
                raise ReceiverRefused(f"{host} resolves to {ip}: {reason}")
    return str(addresses[0])
