"""Network prefixes of source IPs, as Polars expressions.

IPv4 addresses map to their /24 and /16; IPv6 addresses to their /64 (one customer's LAN,
the IPv6 analogue of a /24) and /48 (one site or allocation, the analogue of a /16). The
IPv6 form is expanded first (``2001:db8::1`` has eight groups), so that two spellings of
one prefix agree. Anything that is neither (null, garbage) gives null.
"""

from __future__ import annotations

import polars as pl

_V4 = r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$"


def _expand_v6(ip: pl.Expr) -> pl.Expr:
    """``2001:db8::1`` -> ``2001:db8:0:0:0:0:0:1`` (lower case, zone id dropped)."""
    s = ip.str.to_lowercase().str.replace(r"%.*$", "")
    s = pl.when(s.str.starts_with("::")).then(pl.lit("0") + s).otherwise(s)
    s = pl.when(s.str.ends_with("::")).then(s + pl.lit("0")).otherwise(s)
    missing = (8 - s.str.count_matches(r"[0-9a-f]+")).clip(0, 8)
    zeros = pl.lit(":") + pl.lit("0:").repeat_by(missing).list.join("")
    filled = (pl.lit(":") + s + pl.lit(":")).str.replace("::", zeros, literal=True)
    return filled.str.strip_chars(":")


def ip_prefix(ip: pl.Expr, v4_octets: int, v6_groups: int) -> pl.Expr:
    """The network prefix of ``ip``: ``a.b.c.0/24`` for v4_octets=3, ``g:g:g:g::/64`` for v6_groups=4."""
    host_octets = 4 - v4_octets
    v4 = ip.str.replace(
        r"(\.\d{1,3}){" + str(host_octets) + "}$", ".0" * host_octets + f"/{8 * v4_octets}"
    )
    v6 = _expand_v6(ip).str.split(":").list.head(v6_groups).list.join(":") + pl.lit(
        f"::/{16 * v6_groups}"
    )
    return (
        pl.when(ip.str.contains(_V4))
        .then(v4)
        .when(ip.str.contains(r"^[0-9A-Fa-f:]+(%.*)?$") & ip.str.contains(":"))
        .then(v6)
    )


def subnet24(ip: pl.Expr) -> pl.Expr:
    """IPv4 /24 or IPv6 /64."""
    return ip_prefix(ip, 3, 4)


def subnet16(ip: pl.Expr) -> pl.Expr:
    """IPv4 /16 or IPv6 /48."""
    return ip_prefix(ip, 2, 3)
