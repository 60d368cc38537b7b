"""A DestinationRule: its subsets, and the connection pool and outlier detection of its traffic policy."""

from sentiment_devtools.mesh.model import ConnectionPool, DestinationRule, OutlierDetection
from sentiment_devtools.mesh.strict import Fields, optional_duration, spec_of


def destination_rule(document: dict, resource: str) -> DestinationRule:
    spec = spec_of(document, resource)
    host = spec.take_str("host", required=True)
    pool, outlier = ConnectionPool(), None
    policy = spec.nested("trafficPolicy")
    if policy is not None:
        pool = _connection_pool(policy.nested("connectionPool"))
        outlier = _outlier_detection(policy.nested("outlierDetection"))
        policy.done()
    subsets = {}
    for subset in spec.items("subsets"):
        subsets[subset.take_str("name", required=True)] = subset.string_map("labels")
        subset.done()
    spec.done()
    return DestinationRule(
        name=document["metadata"]["name"], host=host, connection_pool=pool, outlier_detection=outlier, subsets=subsets
    )


def _connection_pool(fields: Fields | None) -> ConnectionPool:
    if fields is None:
        return ConnectionPool()
    tcp = fields.nested("tcp") or Fields({}, fields.resource, f"{fields.path}.tcp")
    http = fields.nested("http") or Fields({}, fields.resource, f"{fields.path}.http")
    pool = ConnectionPool(
        max_connections=tcp.take_int("maxConnections"),
        connect_timeout_seconds=optional_duration(tcp, "connectTimeout"),
        tcp_idle_timeout_seconds=optional_duration(tcp, "idleTimeout"),
        max_pending_requests=http.take_int("http1MaxPendingRequests"),
        max_requests=http.take_int("http2MaxRequests"),
        max_requests_per_connection=http.take_int("maxRequestsPerConnection"),
        max_retries=http.take_int("maxRetries"),
        http_idle_timeout_seconds=optional_duration(http, "idleTimeout"),
    )
    tcp.done()
    http.done()
    fields.done()
    return pool


def _outlier_detection(fields: Fields | None) -> OutlierDetection | None:
    if fields is None:
        return None
    outlier = OutlierDetection(
        consecutive_5xx=fields.take_int("consecutive5xxErrors"),
        consecutive_gateway_errors=fields.take_int("consecutiveGatewayErrors"),
        interval_seconds=optional_duration(fields, "interval"),
        base_ejection_seconds=optional_duration(fields, "baseEjectionTime"),
        max_ejection_percent=fields.take_int("maxEjectionPercent"),
        min_health_percent=fields.take_int("minHealthPercent"),
    )
    fields.done()
    return outlier
