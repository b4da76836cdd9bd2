"""Which address a request comes from, for budgets kept per client (login throttling).

The socket peer, unless it is a trusted proxy (`ACTIVITY_TRUSTED_PROXIES`): then the rightmost
`X-Forwarded-For` entry that is not itself a trusted proxy, the address the proxy received the
request from. Entries left of it were written by the client and prove nothing, and with no
trusted proxy configured the header is ignored: anyone can send it. `activity-server serve`
turns uvicorn's own X-Forwarded-For handling off so that the peer seen here is the socket's.
"""

from __future__ import annotations

import functools
import ipaddress

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN = "unknown"
MAX_LENGTH = 100  # a forwarded entry is stored as a key: no longer than any address


@functools.cache
def trusted_networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of the setting (create_app asks first: a bad entry fails the start)."""
    return tuple(ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def _is_trusted(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(conn: HTTPConnection, proxies: tuple[str, ...]) -> str:
    peer = conn.client.host if conn.client is not None else UNKNOWN
    networks = trusted_networks(proxies)
    if not networks or not _is_trusted(peer, networks):
        return peer
    forwarded = ",".join(conn.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, networks):
            return hop[:MAX_LENGTH]
    return peer
