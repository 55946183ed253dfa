"""Who is on the other end: the client address the limits count, and its network.

``client_address`` is the peer address, or the address a trusted proxy reports: Sanic honours
``X-Forwarded-For`` / ``Forwarded`` only when told to trust a proxy (``SANIC_PROXIES_COUNT``,
``SANIC_FORWARDED_SECRET``, ``SANIC_REAL_IP_HEADER``); otherwise a visitor cannot choose it.

``client_network`` is what the assistant's limits count per requester: the IPv4 /24 or the
IPv6 /56 around that address (one household or office usually holds a whole IPv6 /56, so a
per-address limit on IPv6 would be trivially bypassed).
"""

from __future__ import annotations

import hashlib
import ipaddress

from sanic import Request

IPV4_PREFIX = 24
IPV6_PREFIX = 56


def client_address(request: Request | None) -> str:
    if request is None:
        return "-"
    return request.remote_addr or request.ip or "-"


def _parsed(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


def client_network(address: str) -> str | None:
    """"203.0.113.0/24" for 203.0.113.7, "2001:db8:ab:cd00::/56" for an IPv6 address;
    None when the address is not an IP address (a UNIX socket, "-")."""
    parsed = _parsed(address)
    if parsed is None:
        return None
    prefix = IPV4_PREFIX if parsed.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{parsed}/{prefix}", strict=False))


def requester_key(address: str) -> str:
    """What per-client limits count: an IPv4 address as it is, an IPv6 address as its /56."""
    parsed = _parsed(address)
    if parsed is None:
        return address
    if parsed.version == 4:
        return str(parsed)
    return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))


def requester_hash(address: str) -> str:
    """The stored form of ``requester_key``: addresses are personal data, kept only hashed."""
    return hashlib.sha256(requester_key(address).encode("utf-8")).hexdigest()


def client_metadata(address: str) -> dict[str, dict[str, str]]:
    """Rasa metadata for every visitor message: ``{"pomocnik_client": {"network": …}}`` (the
    action server forwards it to the backend, whose limits count per requester)."""
    network = client_network(address)
    return {"pomocnik_client": {"network": network}} if network else {}
