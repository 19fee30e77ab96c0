"""Where a webhook may point: a public HTTPS address, checked when it is subscribed
and again at every delivery, on the very addresses the connection then uses.

A name that resolved to a public address yesterday may resolve to 127.0.0.1 today (DNS
rebinding), so the check lives in the HTTP client's resolver: the connection can only
go to an address that passed it. IP literals never reach a resolver and are checked
before the request.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_URL_LENGTH = 2000
# A subscription request waits at most this long for the name to resolve.
RESOLVE_SECONDS = 5.0


class TargetRefused(OSError):
    """The URL or an address it resolves to may not be called (an OSError so that the
    HTTP client reports it as a connection failure)."""


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_address(address: str, allow_private: bool) -> None:
    if not allow_private and not is_public(address):
        raise TargetRefused(f"The target resolves to a private or loopback address ({address}).")


def split_url(url: str, allow_http: bool) -> tuple[str, int]:
    """(host, port) of an acceptable webhook URL; TargetRefused says why not."""
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("The URL is not valid.") from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused("The URL must start with https://.")
    if not parts.hostname:
        raise TargetRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("The URL must not carry a user name or password.")
    if parts.fragment:
        raise TargetRefused("The URL must not have a #fragment.")
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


async def check_target(url: str, *, allow_private: bool, allow_http: bool) -> None:
    """Refuse a URL that is malformed, not HTTPS, or reaches a private address now."""
    host, port = split_url(url, allow_http)
    literal = _literal(host)
    if literal is not None:
        check_address(literal, allow_private)
        return
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM),
            timeout=RESOLVE_SECONDS,
        )
    except (OSError, TimeoutError) as exc:
        raise TargetRefused(f"The host {host!r} does not resolve.") from exc
    if not infos:
        raise TargetRefused(f"The host {host!r} does not resolve.")
    for info in infos:
        check_address(str(info[4][0]), allow_private)


class CheckedResolver(AbstractResolver):
    """Resolves as usual, then refuses every answer that holds a private address."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        for result in found:
            check_address(result["host"], self.allow_private)
        return found

    async def close(self) -> None:
        await self._inner.close()


def literal_host(url: str) -> str | None:
    """The IP literal a URL names, if it names one (those bypass the resolver)."""
    host = urlsplit(url).hostname
    return _literal(host) if host else None
