"""Pseudonymisation for reports shared outside the company (``--redact``).

Each identifying value (account id, api key, IP address or subnet, e-mail domain, payment
fingerprint, org id) is replaced by ``kind-`` plus the first 10 hex digits of
HMAC-SHA256(key, kind + NUL + value). The same key gives the same pseudonym for the same value
everywhere in a report (and across reports), so analysts can still follow an account from the
ring list to the examples; without the key the mapping cannot be rebuilt or guessed by
hashing candidate values. Free text (prompts, user agents, findings) is scanned for IP
addresses, e-mail addresses and any identifier already pseudonymised, which are replaced too.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re

REDACT_KEY_ENV = "FORENSICS_REDACT_KEY"

# Kinds of identifying values and the prefix of their pseudonyms.
ACCOUNT = "acct"
API_KEY = "key"
IP = "ip"
SUBNET = "net"
DOMAIN = "dom"
FINGERPRINT = "pay"
ORG = "org"
EMAIL = "mail"

_DIGITS = 10

# Candidate IP addresses (validated with ipaddress before replacing), optionally with /prefix.
_IP_CANDIDATE = re.compile(
    r"(?<![\w.:])(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:\d{1,3}(?:\.\d{1,3}){3})?)(?:/\d{1,3})?(?![\w.:])"
)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@([A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+)")
# Tokens that may be identifiers seen elsewhere in the report (account ids, keys, ...).
_TOKEN = re.compile(r"[\w.@:/+-]+")


class Redactor:
    """Keyed, consistent pseudonyms for the identifying values of one report."""

    def __init__(self, key: str | bytes) -> None:
        if not key:
            raise ValueError("a redaction key is required")
        self._key = key.encode() if isinstance(key, str) else key
        self._known: dict[str, str] = {}

    def pseudonym(self, kind: str, value: str) -> str:
        digest = hmac.new(self._key, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}-{digest[:_DIGITS]}"

    def value(self, kind: str, value: str | None) -> str | None:
        """The pseudonym of one identifying value (remembered, so free text gets it too)."""
        if value is None or value == "":
            return value
        if value in self._known:
            return self._known[value]
        if kind in (IP, SUBNET):
            replaced = self._ip(value)
            if replaced is not None:
                self._known[value] = replaced
                return replaced
        pseudonym = self.pseudonym(kind, value.lower() if kind == DOMAIN else value)
        self._known[value] = pseudonym
        return pseudonym

    def values(self, kind: str, values: list[str]) -> dict[str, str]:
        """Pseudonyms for many values of one kind (e.g. every flagged account)."""
        return {v: self.value(kind, v) or v for v in values}

    def _ip(self, text: str) -> str | None:
        """An IP or CIDR pseudonym keeping the prefix length (so /24 still reads as a /24)."""
        try:
            if "/" in text:
                net = ipaddress.ip_network(text, strict=False)
                return f"{self.pseudonym(SUBNET, str(net))}/{net.prefixlen}"
            return self.pseudonym(IP, str(ipaddress.ip_address(text)))
        except ValueError:
            return None

    def text(self, text: str | None) -> str | None:
        """Free text with IPs, e-mail addresses and already-known identifiers replaced."""
        if not text:
            return text

        def ip(match: re.Match[str]) -> str:
            found = match.group(0)
            if ":" in found and found.count(":") < 2:
                return found
            return self._ip(found) or found

        def email(match: re.Match[str]) -> str:
            address = match.group(0)
            local, _, domain = address.rpartition("@")
            return f"{self.pseudonym(EMAIL, local)}@{self.value(DOMAIN, domain.lower())}"

        out = _EMAIL.sub(email, text)
        out = _IP_CANDIDATE.sub(ip, out)
        if self._known:
            out = _TOKEN.sub(lambda m: self._known.get(m.group(0), m.group(0)), out)
        return out
