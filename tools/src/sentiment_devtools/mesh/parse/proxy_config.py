"""Who the gateway trusts to name the client: `gatewayTopology.numTrustedProxies` of its pods' proxy config.

Istio reads a pod's `proxy.istio.io/config` annotation (ProxyConfig, as YAML)
when it programs that pod's Envoy; for a gateway, `numTrustedProxies` becomes
the HTTP connection manager's `xff_num_trusted_hops`. Only the pods the
Gateway selects are read here, strictly: `proxyStatsMatcher` (which stats
Istio's proxy keeps) is taken as having no local effect, any other field is
refused. A sidecar's proxy config tunes its pod's own proxy, not the
gateway's routing, and is not read.
"""

import yaml

from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.strict import Fields

PROXY_CONFIG_ANNOTATION = "proxy.istio.io/config"


def pod_template(document: dict) -> tuple[dict[str, str], dict[str, str]]:
    """A Deployment's pod labels and pod annotations."""
    metadata = document.get("spec", {}).get("template", {}).get("metadata", {})
    return dict(metadata.get("labels", {})), dict(metadata.get("annotations", {}))


def num_trusted_proxies(annotation: str, resource: str) -> int:
    """The gateway's trusted hops from its proxy config; Istio's default, 0, when it does not say."""
    where = f"spec.template.metadata.annotations[{PROXY_CONFIG_ANNOTATION}]"
    try:
        config = yaml.safe_load(annotation)
    except yaml.YAMLError as error:
        raise CompileError(resource, f"{where}: not YAML ({error})") from None
    proxy_config = Fields(config or {}, resource, where)
    topology = proxy_config.nested("gatewayTopology")
    # Which of Envoy's stats Istio's proxy keeps for scraping: no effect on routing, and the local Envoy keeps all.
    proxy_config.take("proxyStatsMatcher")
    proxy_config.done()
    if topology is None:
        return 0
    hops = topology.take_int("numTrustedProxies", 0)
    topology.done()
    if hops < 0:
        raise topology.error("numTrustedProxies", f"must be 0 or more, found {hops}")
    return hops
