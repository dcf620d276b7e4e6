"""Fetching articles and feeds from the public internet only: every connection, redirects
included, is checked after DNS resolution and made to the address that was checked, so neither
a name that resolves to 127.0.0.1 nor a redirect to 169.254.169.254 reaches an internal
service. `[feeds] allow_private = true` lifts the rule (a feed on the clinic's own network)."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from typing import Any

import httpcore
import httpx

from pipeline.errors import ContentError


def is_public(address: str) -> bool:
    """True for an address on the public internet; False for loopback, private, link-local
    (cloud metadata lives at 169.254.169.254), shared, reserved and multicast ones."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def public_address(host: str, port: int) -> str:
    """The address to connect to for `host`: every address it resolves to must be public (one
    private answer among public ones is how DNS rebinding starts), else ContentError."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise ContentError(f"could not resolve {host!r}: {error}") from None
    addresses = list(dict.fromkeys(str(answer[4][0]) for answer in answers))
    refused = [address for address in addresses if not is_public(address)]
    if refused or not addresses:
        raise ContentError(
            f"refused to fetch from {host} ({', '.join(refused) or 'no address'}): a loopback, "
            "private or link-local address; set [feeds] allow_private = true in clinic.toml "
            "to allow it"
        )
    return addresses[0]


class _PublicOnlyBackend(httpcore.SyncBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        # TLS still names `host` (httpcore passes the URL's host as server_hostname).
        return super().connect_tcp(
            public_address(host, port), port, timeout, local_address, socket_options
        )


class PublicOnlyTransport(httpx.HTTPTransport):
    """httpx's transport with every TCP connection going through public_address."""

    def __init__(self) -> None:
        super().__init__(trust_env=False)
        # httpx takes no network backend of its own, so its pool is rebuilt with one.
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(), network_backend=_PublicOnlyBackend()
        )


def fetching_client(timeout: float, allow_private: bool, headers: dict[str, str]) -> httpx.Client:
    """The client every article and feed fetch uses; proxies from the environment are not
    used when only public addresses are allowed (a proxy would fetch what we refuse)."""
    if allow_private:
        return httpx.Client(timeout=timeout, follow_redirects=True, headers=headers)
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        headers=headers,
        transport=PublicOnlyTransport(),
        trust_env=False,
    )
