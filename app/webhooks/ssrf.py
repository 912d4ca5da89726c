"""SSRF guard: webhook URLs must not reach the service's own network.

A host is refused when ANY address it resolves to is not publicly routable (loopback, private,
link-local, shared/CGNAT, multicast, reserved, unspecified, cloud metadata). An IPv6 address
that embeds an IPv4 one (IPv4-mapped or -compatible, 6to4, NAT64, Teredo) is judged by the
embedded address: that is where a relay or translator would deliver the request. The port must
be 1-65535. Checked when a subscription is saved and again before every attempt;
the attempt then connects to the address that was checked, so DNS cannot change the answer in
between (rebinding)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052)
COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible addresses
LOWEST_PORT, HIGHEST_PORT = 1, 65535


class DestinationRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not reach."""


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """The IPv4 addresses an IPv6 address carries, each with how it carries it; [] for none."""
    if address.ipv4_mapped is not None:
        return [("an IPv4-mapped address embedding", address.ipv4_mapped)]
    if address.sixtofour is not None:
        return [("a 6to4 address embedding", address.sixtofour)]
    if address.teredo is not None:
        # Python already undoes the client address's XOR 0xffffffff obfuscation.
        server, client = address.teredo
        return [
            ("a Teredo address embedding server", server),
            ("a Teredo address embedding client", client),
        ]
    if address in NAT64:
        return [("a NAT64 address embedding", _low_ipv4(address))]
    # :: and ::1 are in ::/96 too, but they are IPv6's own unspecified and loopback addresses.
    if address in COMPATIBLE and int(address) > 1:
        return [("an IPv4-compatible address embedding", _low_ipv4(address))]
    return []


def _low_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def refusal(address: IPAddress) -> str | None:
    """Why `address` may not be a webhook destination, or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address) and (embedded := embedded_ipv4(address)):
        # Judged by what is embedded: these prefixes are themselves public, but the packets
        # end up at the IPv4 address (Teredo: at both the relay server and the client).
        for form, inner in embedded:
            if (reason := refusal(inner)) is not None:
                return f"{form} {inner}, {reason}"
        return None
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


def check_port(port: int) -> None:
    """DestinationRefused unless `port` is a usable TCP port (0 and > 65535 are not)."""
    if not LOWEST_PORT <= port <= HIGHEST_PORT:
        raise DestinationRefused(
            f"destination refused: port {port} is outside {LOWEST_PORT}-{HIGHEST_PORT}"
        )


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
    """The addresses of `host`, or DestinationRefused if any of them is not public (or the
    port is not 1-65535)."""
    check_port(port)
    addresses = await resolve(host, port)
    for address in addresses:
        reason = refusal(address)
        if reason is not None:
            shown = host if host == str(address) else f"{host} ({address})"
            raise DestinationRefused(f"destination refused: {shown} is {reason}")
    return addresses
