"""SSRF guard: webhook URLs must not reach the service's own network.

A host is refused when ANY address it resolves to is not publicly routable (loopback, private,
link-local, shared/CGNAT, multicast, reserved, unspecified, cloud metadata), including IPv4
addresses wrapped in IPv6. Checked when a subscription is saved and again before every attempt;
the attempt then connects to the address that was checked, so DNS cannot change the answer in
between (rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)


class DestinationRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def refusal(address: IPAddress) -> str | None:
    """Why `address` may not be a webhook destination, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return refusal(address.ipv4_mapped)
    checks = (
        (address in METADATA, "a cloud metadata address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_unspecified, "the unspecified address"),
        (address.is_multicast, "a multicast address"),
        (
            isinstance(address, ipaddress.IPv4Address) and address in SHARED,
            "a shared (CGNAT) address",
        ),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (not address.is_global, "not a publicly routable address"),
    )
    return next((label for refused, label in checks if refused), None)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (a literal address resolves to itself)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DestinationRefused(f"destination refused: cannot resolve {host!r}: {exc}") from None
    # Strip IPv6 zone ids ("fe80::1%eth0"): the zone does not change what the address is.
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )


async def public_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses of `host`, or DestinationRefused if any of them is not public."""
    addresses = await resolve(host, port)
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise DestinationRefused(f"destination refused: {shown} is {reason}")
    return addresses
