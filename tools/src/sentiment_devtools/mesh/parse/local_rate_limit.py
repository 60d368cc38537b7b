"""The local rate limit's settings, read field by field: each is either one whose effect locally is its effect at
the gateway, or refused with the reason.

Envoy validates the rest itself (`envoy --mode validate` at every start). What
it cannot see is whether a setting means the same on this machine: buckets,
descriptors and the client's address do; what Istio's own gateway provides
(its service cluster, its filters' metadata, a local cluster of replicas)
does not exist here.
"""

from sentiment_devtools.mesh.strict import Fields

LOCAL_RATE_LIMIT_FILTER = "envoy.filters.http.local_ratelimit"
LOCAL_RATE_LIMIT_TYPE = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit"

# Decided by the request, its client's address and the token buckets alone.
_SAME_HERE = (
    "stat_prefix",
    "status",
    "token_bucket",
    "filter_enabled",
    "filter_enforced",
    "request_headers_to_add_when_not_enforced",
    "response_headers_to_add",
    "descriptors",
    "max_dynamic_descriptors",
    "always_consume_default_token_bucket",
    "enable_x_ratelimit_headers",
    "rate_limited_as_resource_exhausted",
    "local_rate_limit_per_downstream_connection",
)

_REFUSED = {
    "local_cluster_rate_limit": "shares the buckets among the gateway's replicas through Envoy's local cluster, "
    "which neither Istio's gateway nor the local mesh defines",
    "vh_rate_limits": "chooses between route and virtual host rate_limits of the route configuration; "
    "give rate_limits here instead",
}

# rate_limits actions whose descriptor entry comes from the request and the trusted client address alone.
_ACTIONS = (
    "remote_address",
    "masked_remote_address",
    "generic_key",
    "request_headers",
    "header_value_match",
    "query_parameter_value_match",
)

_REFUSED_ACTIONS = {
    "source_cluster": "the gateway's service cluster is named by Istio, not by the local mesh",
    "destination_cluster": "not supported: name the destination with header_value_match or generic_key",
    "metadata": "reads dynamic or route metadata that Istio's filters write at the gateway, absent locally",
    "extension": "a descriptor extension is not supported by the local mesh compiler",
}


def check_local_rate_limit(config: object, resource: str, path: str) -> None:
    """Refuse, naming its path, any setting of a LocalRateLimit that would not mean here what it means in Istio."""
    fields = Fields(config, resource, path)
    if fields.take_str("@type") != LOCAL_RATE_LIMIT_TYPE:
        raise fields.error("@type", f"must be {LOCAL_RATE_LIMIT_TYPE}")
    for name, reason in _REFUSED.items():
        if name in fields:
            raise fields.error(name, reason)
    for name in _SAME_HERE:
        fields.take(name)
    for rate_limit in fields.items("rate_limits"):
        for action in rate_limit.items("actions", required=True):
            _check_action(action)
        rate_limit.done()
    fields.done()


def _check_action(action: Fields) -> None:
    kinds = action.field_names()
    if len(kinds) != 1:
        raise action.error("", f"an action is exactly one of {', '.join(_ACTIONS)}; found {kinds}")
    kind = kinds[0]
    if kind in _REFUSED_ACTIONS:
        raise action.error(kind, _REFUSED_ACTIONS[kind])
    if kind in _ACTIONS:
        action.take(kind)
    action.done()
