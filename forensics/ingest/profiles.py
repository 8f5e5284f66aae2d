"""Where canonical fields come from: built-in aliases, mapping profiles, mapping files.

For every canonical field the pipeline takes the first non-empty value among its
candidate sources, in this order: ``--map`` (which replaces all other candidates for that
field), a ``--mapping`` file, a ``--profile`` (or the profile a format implies, such as
``litellm``), the canonical name itself, then the built-in aliases below. A source is a
column name or a dotted path into nested JSON (``metadata.user_api_key_user_id``); names
match case-insensitively.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from forensics.errors import ForensicsError
from forensics.schema import MAPPABLE_EVENT_FIELDS

# Common names for each canonical field, most specific first.
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": (
        "timestamp",
        "time",
        "@timestamp",
        "datetime",
        "date",
        "created_at",
        "createdAt",
        "start_time",
        "startTime",
        "request_time_iso",
        "time_iso8601",
        "time_local",
        "requestTime",
        "requestTimeEpoch",
        "event_time",
        "eventTime",
    ),
    "account_id": (
        "account",
        "accountId",
        "user_id",
        "userId",
        "user",
        "customer_id",
        "customerId",
        "customer",
        "org_id",
        "organization_id",
        "tenant_id",
        "end_user",
        "enduser.id",
        "metadata.user_api_key_user_id",
    ),
    "api_key_id": (
        "api_key",
        "apiKeyId",
        "apiKey",
        "api_key_hash",
        "key_id",
        "keyId",
        "key",
        "token_id",
        "identity.apiKeyId",
        "metadata.user_api_key",
    ),
    "request_id": ("requestId", "req_id", "x_request_id", "request_uuid", "uuid", "id"),
    "src_ip": (
        "client_ip",
        "clientIp",
        "x_forwarded_for",
        "http_x_forwarded_for",
        "xff",
        "requester_ip_address",
        "source_ip",
        "sourceIp",
        "identity.sourceIp",
        "remote_addr",
        "remote_ip",
        "remoteAddr",
        "ip",
        "ip_address",
        "client_address",
        "client",
    ),
    "user_agent": ("userAgent", "http_user_agent", "ua", "agent", "identity.userAgent"),
    "method": ("http_method", "httpMethod", "request_method", "verb"),
    "endpoint": (
        "path",
        "request_path",
        "resourcePath",
        "uri",
        "request_uri",
        "url",
        "route",
    ),
    "status": (
        "status_code",
        "statusCode",
        "http_status",
        "response_status",
        "response_code",
        "status",
    ),
    "model": ("model_name", "modelId", "model_id", "gen_ai.request.model", "request_model"),
    "input_tokens": (
        "prompt_tokens",
        "tokens_in",
        "inputTokens",
        "promptTokens",
        "usage.prompt_tokens",
        "usage.input_tokens",
        "gen_ai.usage.input_tokens",
    ),
    "output_tokens": (
        "completion_tokens",
        "tokens_out",
        "outputTokens",
        "completionTokens",
        "usage.completion_tokens",
        "usage.output_tokens",
        "gen_ai.usage.output_tokens",
    ),
    "latency_ms": ("duration_ms", "durationMs", "elapsed_ms", "response_time_ms", "latencyMs"),
    "prompt": ("prompt_text", "user_prompt", "input", "query", "question", "messages"),
}


@dataclass(frozen=True)
class Profile:
    """A named export format's field names (candidates per canonical field) and units."""

    name: str
    description: str
    fields: dict[str, tuple[str, ...]]
    # canonical numeric field -> multiplier (e.g. nginx $request_time is in seconds)
    scale: dict[str, float] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "litellm",
            "LiteLLM proxy SpendLogs export (CSV or JSON)",
            {
                "ts": ("startTime",),
                "account_id": (
                    "user",
                    "end_user",
                    "metadata.user_api_key_user_id",
                    "metadata.user_api_key_team_id",
                    "team_id",
                ),
                "api_key_id": ("api_key", "metadata.user_api_key"),
                "request_id": ("request_id",),
                "src_ip": ("requester_ip_address",),
                "user_agent": (
                    "proxy_server_request.headers.user-agent",
                    "metadata.headers.user-agent",
                ),
                "endpoint": ("call_type",),
                "status": ("status",),
                "model": ("model", "model_group"),
                "input_tokens": ("prompt_tokens",),
                "output_tokens": ("completion_tokens",),
                "prompt": ("messages", "proxy_server_request.messages"),
            },
        ),
        Profile(
            "aws-apigw",
            "AWS API Gateway JSON access logs ($context variables)",
            {
                "ts": ("requestTimeEpoch", "requestTime", "context.requestTimeEpoch"),
                "account_id": (
                    "authorizer.principalId",
                    "principalId",
                    "identity.apiKeyId",
                    "apiKeyId",
                    "identity.user",
                    "user",
                    "identity.caller",
                    "caller",
                ),
                "api_key_id": ("identity.apiKeyId", "apiKeyId", "apiKey"),
                "request_id": ("requestId", "context.requestId", "extendedRequestId"),
                "src_ip": ("identity.sourceIp", "sourceIp", "ip"),
                "user_agent": ("identity.userAgent", "userAgent"),
                "method": ("httpMethod", "context.httpMethod"),
                "endpoint": ("resourcePath", "path", "routeKey"),
                "status": ("status",),
                "latency_ms": ("responseLatency", "integrationLatency", "latency"),
            },
        ),
        Profile(
            "cloudflare-ai-gateway",
            "Cloudflare AI Gateway log export (id, created_at, model, tokens_in, ...)",
            {
                "ts": ("created_at",),
                "account_id": (
                    "metadata.user_id",
                    "metadata.userId",
                    "metadata.user",
                    "metadata.account_id",
                    "metadata.customer_id",
                ),
                "request_id": ("id",),
                "endpoint": ("path",),
                "status": ("status_code",),
                "model": ("model",),
                "input_tokens": ("tokens_in",),
                "output_tokens": ("tokens_out",),
                "latency_ms": ("duration",),
                "prompt": ("request.messages", "request_body.messages"),
            },
        ),
        Profile(
            "helicone",
            "Helicone request export (JSON, JSONL or CSV)",
            {
                "ts": ("request_created_at",),
                "account_id": ("request_user_id", "user_id", "helicone_user"),
                "api_key_id": ("api_key_id", "helicone_api_key_id"),
                "request_id": ("request_id",),
                "src_ip": ("request_ip", "ip"),
                "endpoint": ("request_path", "target_url"),
                "status": ("response_status",),
                "model": ("request_model", "model", "response_model"),
                "input_tokens": ("prompt_tokens",),
                "output_tokens": ("completion_tokens",),
                "latency_ms": ("delay_ms", "latency"),
                "prompt": ("request_body.messages", "request_prompt"),
            },
        ),
        Profile(
            "nginx-json",
            "nginx log_format escape=json with variable names as keys",
            {
                "ts": ("time_iso8601", "msec", "time_local", "timestamp"),
                "account_id": ("remote_user", "http_x_user_id", "http_x_account_id"),
                "api_key_id": ("http_x_api_key",),
                "request_id": ("request_id", "http_x_request_id"),
                "src_ip": ("http_x_forwarded_for", "remote_addr"),
                "user_agent": ("http_user_agent",),
                "method": ("request_method",),
                "endpoint": ("uri", "request_uri"),
                "status": ("status",),
                "latency_ms": ("request_time",),
            },
            scale={"latency_ms": 1000.0},
        ),
    )
}


def get_profile(name: str) -> Profile:
    """A built-in profile by name, or a clear error listing them."""
    if name not in PROFILES:
        raise ForensicsError(f"unknown profile {name!r}; built-in profiles: {', '.join(PROFILES)}")
    return PROFILES[name]


def _check_field(name: str, origin: str) -> None:
    if name not in MAPPABLE_EVENT_FIELDS:
        raise ForensicsError(
            f"{origin}: {name!r} is not a canonical field; choose from: {', '.join(MAPPABLE_EVENT_FIELDS)}"
        )


def parse_map_options(pairs: list[str]) -> dict[str, tuple[str, ...]]:
    """``--map canonical=source`` options (repeatable; a repeated field adds fallbacks)."""
    mapping: dict[str, tuple[str, ...]] = {}
    for pair in pairs:
        target, sep, source = pair.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not target or not source:
            raise ForensicsError(f"--map {pair!r}: expected canonical=source, e.g. account_id=user")
        _check_field(target, f"--map {pair!r}")
        mapping[target] = mapping.get(target, ()) + (source,)
    return mapping


def load_mapping_file(path: str | Path) -> dict[str, tuple[str, ...]]:
    """A TOML mapping file: a ``[map]`` table of ``canonical = "source"`` or a list of sources."""
    p = Path(path)
    try:
        doc = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ForensicsError(f"cannot read mapping file {p}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ForensicsError(f"mapping file {p} is not valid TOML: {exc}") from None
    table = doc.get("map")
    if not isinstance(table, dict):
        raise ForensicsError(f"mapping file {p} has no [map] table")
    mapping: dict[str, tuple[str, ...]] = {}
    for target, source in table.items():
        _check_field(target, f"mapping file {p}")
        sources = (source,) if isinstance(source, str) else source
        if not isinstance(sources, list | tuple) or not all(isinstance(s, str) for s in sources):
            raise ForensicsError(
                f"mapping file {p}: {target} must be a string or a list of strings"
            )
        mapping[target] = tuple(sources)
    return mapping
