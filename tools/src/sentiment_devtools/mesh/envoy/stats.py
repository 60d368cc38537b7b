"""How the local Envoy names its statistics' tags: as Istio's proxy does.

Istio's proxy bootstrap (istio/istio, `tools/packaging/common/envoy_bootstrap.json`,
`stats_config`; read at commit 002dd6f5b6db) drops Envoy's default tag extractors (`use_all_default_tags:
false`) and gives its own, in this order; the local Envoy takes the same list.
So Prometheus shows the tags as `cluster_name` and `response_code` (not Envoy's
`envoy_cluster_name`, `envoy_response_code`), and a statistic no extractor
matches keeps its prefix in its name: the gateway's connection manager
(`http.outbound_0.0.0.0_8443.downstream_rq_too_large` becomes
`envoy_http_outbound_0_0_0_0_8443_downstream_rq_too_large`, the
`http_conn_manager_prefix` regex taking only addresses), and each local rate
limit's stat_prefix (`app_service_api.http_local_rate_limit.rate_limited`,
`envoy_app_service_api_http_local_rate_limit_rate_limited`).

Left out: the bootstrap's `extraStatTags` entries, which name the labels of
Istio's own `istio_*` metrics (`reporter=.=…;.;`); the local Envoy has no Istio
stats filter and emits none. `response_code` is the regex since istio/istio#40729
(`_rq(_(\\d{3}))$`; before it, a stray `\\.` made it match nothing).
"""

# Istio's proxy bootstrap, `stats_config.stats_tags` (Envoy's std::regex dialect, as Istio writes them).
ISTIO_STATS_TAGS = (
    ("cluster_name", r"^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)"),
    ("tcp_prefix", r"^tcp\.((.*?)\.)\w+?$"),
    ("response_code", r"_rq(_(\d{3}))$"),
    ("response_code_class", r"_rq(_(\dxx))$"),
    (
        "http_conn_manager_listener_prefix",
        r"^listener(?=\.).*?\.http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)",
    ),
    ("http_conn_manager_prefix", r"^http\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)"),
    ("listener_address", r"^listener\.(((?:[_.[:digit:]]*|[_\[\]aAbBcCdDeEfF[:digit:]]*))\.)"),
    ("mongo_prefix", r"^mongo\.(.+?)\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$"),
    ("cache", r"(cache\.(.+?)\.)"),
    ("component", r"(component\.(.+?)\.)"),
    ("tag", r"(tag\.(.+?);\.)"),
    ("wasm_filter", r"(wasm_filter\.(.+?)\.)"),
    ("authz_enforce_result", r"rbac(\.(allowed|denied))"),
    ("authz_dry_run_action", r"(\.istio_dry_run_(allow|deny)_)"),
    ("authz_dry_run_result", r"(\.shadow_(allowed|denied))"),
)


def stats_config() -> dict:
    return {
        "use_all_default_tags": False,
        "stats_tags": [{"tag_name": name, "regex": regex} for name, regex in ISTIO_STATS_TAGS],
    }
