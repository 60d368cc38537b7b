"""How Envoy names its statistics' tags: its own defaults, but the cluster name extracted as Istio's proxy does.

Envoy's default `envoy.cluster_name` tag stops at the cluster name's first dot,
so istiod's `outbound|80|stable|app-service.sentiment.svc.cluster.local` would
become the tag `outbound|80|stable|app-service` and the rest would leak into
the metric's name. Istio's proxy bootstrap extracts it with a regex that keeps
`.<namespace>.svc.cluster.local`; the local Envoy does the same. Envoy applies
its default extractors before any given one, so the defaults are listed here by
name (Envoy supplies their regexes), with the cluster name's first.

The tag *names* stay Envoy's (`envoy_cluster_name`, `envoy_response_code` in
Prometheus): Istio's proxy names them `cluster_name`, `response_code`
(docs/local-mesh.md, "What the compiler models").
"""

# Istio's proxy bootstrap (`stats_config.stats_tags`, its `cluster_name`).
ISTIO_CLUSTER_NAME_REGEX = r"^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)"

# Envoy 1.40's default tag extractors but the cluster name's (its well_known_names.h; `envoy --mode validate`
# refuses a name it has no default for).
_ENVOY_DEFAULT_TAGS = (
    "envoy.listener_address",
    "envoy.http_conn_manager_prefix",
    "envoy.http_user_agent",
    "envoy.ssl_cipher",
    "cipher_suite",
    "envoy.clientssl_prefix",
    "envoy.mongo_prefix",
    "envoy.mongo_cmd",
    "envoy.mongo_collection",
    "envoy.mongo_callsite",
    "envoy.ratelimit_prefix",
    "envoy.local_http_ratelimit_prefix",
    "envoy.local_network_ratelimit_prefix",
    "envoy.tcp_prefix",
    "envoy.udp_prefix",
    "envoy.fault_downstream_cluster",
    "envoy.dynamo_operation",
    "envoy.dynamo_table",
    "envoy.dynamo_partition_id",
    "envoy.grpc_bridge_service",
    "envoy.grpc_bridge_method",
    "envoy.virtual_host",
    "envoy.virtual_cluster",
    "envoy.response_code",
    "envoy.response_code_class",
    "envoy.rds_route_config",
    "envoy.route",
    "envoy.worker_id",
    "envoy.thrift_prefix",
    "envoy.redis_prefix",
    "envoy.tls_certificate",
    "envoy.ssl_curve",
    "envoy.ssl_sigalg",
    "envoy.ssl_version",
    "envoy.rbac_prefix",
    "envoy.rbac_policy_name",
    "envoy.rbac_http_prefix",
    "envoy.connection_limit_prefix",
    "envoy.proxy_protocol_prefix",
    "envoy.proxy_protocol_version",
    "envoy.scoped_rds_config",
    "envoy.google_grpc_client_prefix",
    "envoy.dns_filter_prefix",
    "envoy.ext_authz_prefix",
)


def stats_config() -> dict:
    return {
        "use_all_default_tags": False,
        "stats_tags": [
            {"tag_name": "envoy.cluster_name", "regex": ISTIO_CLUSTER_NAME_REGEX},
            *({"tag_name": name} for name in _ENVOY_DEFAULT_TAGS),
        ],
    }
