"""A VirtualService: its hosts, gateways and http routes, with their matches, destinations, header operations,
timeouts, retries and CORS policy."""

import re

from sentiment_devtools.mesh.model import (
    CorsPolicy,
    Destination,
    HeaderOperations,
    HeaderPolicy,
    HttpRoute,
    RequestMatch,
    Retries,
    StringMatch,
    VirtualService,
)
from sentiment_devtools.mesh.strict import Fields, optional_duration, parse_duration, spec_of


def virtual_service(document: dict, resource: str) -> VirtualService:
    spec = spec_of(document, resource)
    hosts = spec.strings("hosts", required=True)
    gateways = spec.strings("gateways") or ["mesh"]
    routes = [_http_route(route) for route in spec.items("http", required=True)]
    spec.done()
    return VirtualService(name=document["metadata"]["name"], hosts=hosts, gateways=gateways, routes=routes)


def _http_route(route: Fields) -> HttpRoute:
    name = route.take_str("name")
    matches = [_request_match(match) for match in route.items("match")]
    destinations = [_destination(destination) for destination in route.items("route", required=True)]
    headers = _header_policy(route.nested("headers"))
    timeout = route.take_str("timeout")
    retries = _retries(route.nested("retries"))
    cors = _cors_policy(route.nested("corsPolicy"))
    route.done()
    weights = [d.weight for d in destinations]
    if len(destinations) > 1 and (None in weights or sum(weights) != 100):
        raise route.error("route", f"weights of several destinations must be given and sum to 100, found {weights}")
    return HttpRoute(
        name=name,
        matches=matches,
        destinations=destinations,
        headers=headers,
        timeout_seconds=None if timeout is None else parse_duration(timeout, route, "timeout"),
        retries=retries,
        cors=cors,
    )


def _cors_policy(fields: Fields | None) -> CorsPolicy | None:
    if fields is None:
        return None
    origins = [_string_match(origin) for origin in fields.items("allowOrigins", required=True)]
    policy = CorsPolicy(
        allow_origins=origins,
        allow_methods=fields.strings("allowMethods"),
        allow_headers=fields.strings("allowHeaders"),
        expose_headers=fields.strings("exposeHeaders"),
        max_age_seconds=optional_duration(fields, "maxAge"),
        allow_credentials=bool(fields.take("allowCredentials", False)),
    )
    fields.done()
    return policy


def _request_match(match: Fields) -> RequestMatch:
    uri = _string_match(match.nested("uri"))
    headers = {}
    header_fields = match.nested("headers")
    if header_fields is not None:
        for header in header_fields.field_names():
            if header != header.lower():
                raise header_fields.error(header, "header names must be lowercase, as Istio requires")
            headers[header] = _string_match(header_fields.nested(header))
        header_fields.done()
    source_labels = match.string_map("sourceLabels")
    match.take_str("name")
    match.done()
    return RequestMatch(uri=uri, headers=headers, source_labels=source_labels)


def _string_match(fields: Fields | None) -> StringMatch | None:
    if fields is None:
        return None
    kinds = [kind for kind in ("exact", "prefix", "regex") if kind in fields]
    if len(kinds) != 1 or len(fields.field_names()) != 1:
        raise fields.error("", f"needs exactly one of exact, prefix, regex; found {fields.field_names()}")
    value = fields.take_str(kinds[0])
    fields.done()
    if kinds[0] == "regex":
        _check_re2(value, fields)
    return StringMatch(kinds[0], value)


def _check_re2(pattern: str, fields: Fields) -> None:
    """Refuse what Python can tell is not a regex; Envoy's RE2 checks the rest at validation."""
    try:
        re.compile(pattern)
    except re.error as error:
        raise fields.error("regex", f"not a valid regular expression: {error}") from None


def _destination(route_destination: Fields) -> Destination:
    destination = route_destination.nested("destination", required=True)
    host = destination.take_str("host", required=True)
    subset = destination.take_str("subset")
    port_fields = destination.nested("port")
    port = None
    if port_fields is not None:
        port = port_fields.take_int("number")
        port_fields.done()
    destination.done()
    weight = route_destination.take_int("weight")
    headers = _header_policy(route_destination.nested("headers"))
    route_destination.done()
    return Destination(host=host, subset=subset, port=port, weight=weight, headers=headers)


def _header_policy(fields: Fields | None) -> HeaderPolicy:
    if fields is None:
        return HeaderPolicy()
    policy = HeaderPolicy(
        request=_operations(fields.nested("request")), response=_operations(fields.nested("response"))
    )
    fields.done()
    return policy


def _operations(fields: Fields | None) -> HeaderOperations:
    if fields is None:
        return HeaderOperations()
    operations = HeaderOperations(
        set=fields.string_map("set"), add=fields.string_map("add"), remove=fields.strings("remove")
    )
    fields.done()
    return operations


# The retryOn conditions Envoy honours by their name alone, as Istio passes them on. Refused: the conditions that
# need more than their name (retriable-status-codes, retriable-headers, status codes such as 503, which Istio
# turns into retriable_status_codes), HTTP/3's, and any name Envoy does not know.
SUPPORTED_RETRY_ON = frozenset({
    "connect-failure", "refused-stream", "reset", "reset-before-request", "5xx", "gateway-error", "retriable-4xx",
    "envoy-ratelimited", "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
})  # fmt: skip


def _retries(fields: Fields | None) -> Retries | None:
    if fields is None:
        return None
    attempts = fields.take_int("attempts", 0)
    per_try = fields.take_str("perTryTimeout")
    retry_on = fields.take_str("retryOn")
    if retry_on is not None:
        conditions = [condition.strip() for condition in retry_on.split(",")]
        unsupported = [condition for condition in conditions if condition not in SUPPORTED_RETRY_ON]
        if unsupported:
            refused = ", ".join(unsupported)
            raise fields.error(
                "retryOn", f"{refused}: not supported by the local mesh compiler (see docs/local-mesh.md)"
            )
        retry_on = ",".join(conditions)
    retries = Retries(
        attempts=attempts,
        per_try_timeout_seconds=None if per_try is None else parse_duration(per_try, fields, "perTryTimeout"),
        retry_on=retry_on,
    )
    fields.done()
    return retries
