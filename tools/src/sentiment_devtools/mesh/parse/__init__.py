"""From rendered manifests (a list of dicts) to the compiler's model, strictly.

Only the resources that program Envoy are read: Gateway, VirtualService,
DestinationRule, the gateway's EnvoyFilters, PeerAuthentication and
AuthorizationPolicy, Services (for their selectors and ports), and of the
Deployments their pods' labels and service accounts (whose identity they
carry) and the proxy config of the gateway's pods (who may name the client).
Istio kinds that do something else are listed in NOT_EMULATED with the
reason; any other Istio kind is refused.
"""

from dataclasses import replace

from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import DestinationRule, Gateway, Mesh, PodIdentity, Service
from sentiment_devtools.mesh.parse.destination_rule import destination_rule
from sentiment_devtools.mesh.parse.envoy_filter import gateway_filter
from sentiment_devtools.mesh.parse.gateway import gateway
from sentiment_devtools.mesh.parse.proxy_config import PROXY_CONFIG_ANNOTATION, num_trusted_proxies, pod_template
from sentiment_devtools.mesh.parse.security import authorization_policy, peer_authentication
from sentiment_devtools.mesh.parse.virtual_service import virtual_service

ISTIO_GROUPS = ("networking.istio.io", "security.istio.io", "telemetry.istio.io")


# Istio resources that matter in a cluster but not to local routing.
NOT_EMULATED = {
    "ServiceEntry": "outbound hosts outside the mesh; local processes reach the internet directly",
}


def parse_mesh(documents: list[dict]) -> Mesh:
    gateways, virtual_services, gateway_filters, peer_authentications, authorization_policies = [], [], [], [], []
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
            gateway_filters.append(gateway_filter(document, resource, position=len(gateway_filters)))
        elif kind == "PeerAuthentication":
            peer_authentications.append(peer_authentication(document, resource))
        elif kind == "AuthorizationPolicy":
            authorization_policies.append(authorization_policy(document, resource))
        else:
            raise CompileError(resource, f"{group} kind {kind} is not supported by the local mesh compiler")
    gateways = [_with_trusted_proxies(g, deployments) for g in gateways]
    pods = [_pod_identity(document) for _, document in deployments]
    return Mesh(
        gateways,
        virtual_services,
        destination_rules,
        gateway_filters,
        services,
        pods,
        peer_authentications,
        authorization_policies,
    )


def _pod_identity(document: dict) -> PodIdentity:
    """A Deployment's pods: their labels, and the ServiceAccount they run as (Kubernetes' default: `default`)."""
    labels, _ = pod_template(document)
    account = document.get("spec", {}).get("template", {}).get("spec", {}).get("serviceAccountName", "default")
    return PodIdentity(labels, account, document.get("metadata", {}).get("namespace", "default"))


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
    metadata = document["metadata"]
    return Service(metadata["name"], dict(spec.get("selector", {})), ports, metadata.get("namespace", "default"))
