"""From rendered manifests (a list of dicts) to the compiler's model, strictly.

Only the resources that program Envoy's routing are read: Gateway,
VirtualService, DestinationRule, the gateway's EnvoyFilters, Services (for
their selectors and ports), and the proxy config of the gateway's pods (who
may name the client). Istio kinds that do something else are listed in
NOT_EMULATED with the reason; any other Istio kind is refused.
"""

from dataclasses import replace

from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import DestinationRule, Gateway, Mesh, Service
from sentiment_devtools.mesh.parse.destination_rule import destination_rule
from sentiment_devtools.mesh.parse.envoy_filter import gateway_filter
from sentiment_devtools.mesh.parse.gateway import gateway
from sentiment_devtools.mesh.parse.proxy_config import PROXY_CONFIG_ANNOTATION, num_trusted_proxies, pod_template
from sentiment_devtools.mesh.parse.virtual_service import virtual_service

ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io")


# Istio resources that matter in a cluster but not to local routing.
NOT_EMULATED = {
    "ServiceEntry": "outbound hosts outside the mesh; local processes reach the internet directly",
    "PeerAuthentication": "mTLS between sidecars; local hops are plain HTTP on 127.0.0.1",
    "AuthorizationPolicy": "identity-based access between workloads; there are no identities locally",
}


def parse_mesh(documents: list[dict]) -> Mesh:
    gateways, virtual_services, gateway_filters = [], [], []
    destination_rules: dict[str, DestinationRule] = {}
    services: dict[str, Service] = {}
    deployments = []
    for document in documents:
        kind = document.get("kind", "")
        group = str(document.get("apiVersion", "")).partition("/")[0]
        name = document.get("metadata", {}).get("name", "?")
        resource = f"{kind}/{name}"
        if kind == "Service" and group == "v1":
            services[name] = _service(document, resource)
        elif kind == "Deployment" and group == "apps":
            deployments.append((resource, document))
        elif group not in ISTIO_GROUPS or kind in NOT_EMULATED:
            continue
        elif kind == "Gateway":
            gateways.append(gateway(document, resource))
        elif kind == "VirtualService":
            virtual_services.append(virtual_service(document, resource))
        elif kind == "DestinationRule":
            rule = destination_rule(document, resource)
            if rule.host in destination_rules:
                raise CompileError(resource, f"spec.host: a second DestinationRule for host {rule.host}")
            destination_rules[rule.host] = rule
        elif kind == "EnvoyFilter":
            gateway_filters.append(gateway_filter(document, resource))
        else:
            raise CompileError(resource, f"{group} kind {kind} is not supported by the local mesh compiler")
    gateways = [_with_trusted_proxies(g, deployments) for g in gateways]
    return Mesh(gateways, virtual_services, destination_rules, gateway_filters, services)


def _with_trusted_proxies(gateway: Gateway, deployments: list[tuple[str, dict]]) -> Gateway:
    """The gateway's numTrustedProxies, from the proxy config of the pods it selects; all must agree."""
    found = {}
    for resource, document in deployments:
        labels, annotations = pod_template(document)
        if gateway.selector.items() <= labels.items():
            found[resource] = num_trusted_proxies(annotations.get(PROXY_CONFIG_ANNOTATION, ""), resource)
    if len(set(found.values())) > 1:
        raise CompileError(f"Gateway/{gateway.name}", f"its pods disagree on numTrustedProxies: {found}")
    return replace(gateway, num_trusted_proxies=next(iter(found.values()), 0))


def _service(document: dict, resource: str) -> Service:
    spec = document.get("spec", {})
    ports = {str(port.get("name", "")): int(port["port"]) for port in spec.get("ports", [])}
    return Service(name=document["metadata"]["name"], selector=dict(spec.get("selector", {})), ports=ports)
