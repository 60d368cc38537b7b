"""AlertmanagerConfig resources as the alertmanager.yml the prometheus-operator
generates from them, so that Alertmanager's own tools can check it (and a real
Alertmanager can run it: the local monitoring does).

The operator's semantics (alertmanagerConfigMatcherStrategy OnNamespace, its
default): each resource's receivers are renamed <namespace>/<name>/<receiver>;
its route becomes a child of the root route, with `continue: true` and a
`namespace="<its namespace>"` matcher first; Secret references are replaced by
the Secret's value. The root route sends everything else to a receiver that
does nothing, as kube-prometheus-stack's does. Fields this converter does not
know are refused, never dropped.
"""

from collections.abc import Mapping

from sentiment_devtools.manifests.model import Manifests, namespace, ref

ROOT_RECEIVER = "null"

ROUTE_FIELDS = {
    "receiver": "receiver",
    "groupBy": "group_by",
    "groupWait": "group_wait",
    "groupInterval": "group_interval",
    "repeatInterval": "repeat_interval",
    "continue": "continue",
}
EMAIL_FIELDS = {
    "to": "to",
    "from": "from",
    "hello": "hello",
    "smarthost": "smarthost",
    "authUsername": "auth_username",
    "authIdentity": "auth_identity",
    "requireTLS": "require_tls",
    "sendResolved": "send_resolved",
    "html": "html",
    "text": "text",
}
EMAIL_SECRET_FIELDS = {"authPassword": "auth_password", "authSecret": "auth_secret"}


class ConversionError(Exception):
    pass


def alertmanager_config(m: Manifests) -> dict:
    """The alertmanager.yml for every AlertmanagerConfig in the manifests."""
    routes, receivers = [], [{"name": ROOT_RECEIVER}]
    for config in m.of_kind("AlertmanagerConfig"):
        spec = config["spec"]
        _refuse_unknown(config, spec, {"route", "receivers"})
        prefix = f"{namespace(config)}/{config['metadata']['name']}/"
        receivers += [_receiver(m, config, receiver, prefix) for receiver in spec.get("receivers", [])]
        if "route" in spec:
            route = _route(config, spec["route"], prefix)
            route["matchers"] = [f'namespace="{namespace(config)}"', *route.get("matchers", [])]
            route["continue"] = True
            routes.append(route)
    return {"route": {"receiver": ROOT_RECEIVER, "routes": routes}, "receivers": receivers}


def _route(config: Mapping, route: Mapping, prefix: str) -> dict:
    _refuse_unknown(config, route, {*ROUTE_FIELDS, "matchers", "routes"})
    converted = {ROUTE_FIELDS[field]: value for field, value in route.items() if field in ROUTE_FIELDS}
    if "receiver" in converted:
        converted["receiver"] = prefix + converted["receiver"]
    if "matchers" in route:
        converted["matchers"] = [_matcher(matcher) for matcher in route["matchers"]]
    if "routes" in route:
        converted["routes"] = [_route(config, child, prefix) for child in route["routes"]]
    return converted


def _matcher(matcher: Mapping) -> str:
    operator = matcher.get("matchType") or ("=~" if matcher.get("regex") else "=")
    value = matcher.get("value", "").replace("\\", "\\\\").replace('"', '\\"')
    return f'{matcher["name"]}{operator}"{value}"'


def _receiver(m: Manifests, config: Mapping, receiver: Mapping, prefix: str) -> dict:
    _refuse_unknown(config, receiver, {"name", "emailConfigs"})
    converted: dict = {"name": prefix + receiver["name"]}
    if "emailConfigs" in receiver:
        converted["email_configs"] = [_email(m, config, email) for email in receiver["emailConfigs"]]
    return converted


def _email(m: Manifests, config: Mapping, email: Mapping) -> dict:
    _refuse_unknown(config, email, {*EMAIL_FIELDS, *EMAIL_SECRET_FIELDS, "headers"})
    converted = {EMAIL_FIELDS[field]: value for field, value in email.items() if field in EMAIL_FIELDS}
    for field, key in EMAIL_SECRET_FIELDS.items():
        if field in email:
            converted[key] = _secret_value(m, config, email[field])
    if "headers" in email:
        converted["headers"] = {header["key"]: header["value"] for header in email["headers"]}
    return converted


def _secret_value(m: Manifests, config: Mapping, selector: Mapping) -> str:
    data = m.secret_data(selector["name"], namespace(config)) or {}
    if selector["key"] not in data:
        raise ConversionError(
            f"{ref(config)}: Secret/{selector['name']} does not exist or has no key {selector['key']}"
        )
    return data[selector["key"]]


def _refuse_unknown(config: Mapping, fields: Mapping, known: set[str]) -> None:
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ConversionError(f"{ref(config)}: {', '.join(unknown)} not supported by {__name__} (add it there)")
