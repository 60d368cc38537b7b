"""PeerAuthentication and AuthorizationPolicy: the mutual TLS a workload requires, and whose calls it allows.

Istio programs both into the inbound side of the selected workloads' sidecars:
STRICT mTLS becomes a TLS listener that requires a client certificate from the
mesh's CA, and an ALLOW policy becomes Envoy's RBAC filter on the peer's
principal (its certificate's SPIFFE identity). Only those shapes are read;
every other mode, action or field is refused with its path.
"""

from sentiment_devtools.mesh.model import AuthorizationPolicy, AuthorizationRule, PeerAuthentication
from sentiment_devtools.mesh.strict import Fields, spec_of


def peer_authentication(document: dict, resource: str) -> PeerAuthentication:
    spec = spec_of(document, resource)
    selector = _selector(spec)
    mtls = spec.nested("mtls", required=True)
    mode = mtls.take_str("mode", required=True)
    if mode != "STRICT":
        # PERMISSIVE takes plain text and mTLS on one port, DISABLE plain text only: neither is compiled.
        raise mtls.error("mode", f"{mode} is not supported (STRICT only)")
    mtls.done()
    spec.done()
    metadata = document["metadata"]
    return PeerAuthentication(metadata["name"], metadata.get("namespace", "default"), selector, mode)


def authorization_policy(document: dict, resource: str) -> AuthorizationPolicy:
    spec = spec_of(document, resource)
    selector = _selector(spec)
    if selector is None:
        raise spec.error("selector", "required: a policy for every workload of the namespace is not supported")
    action = spec.take_str("action", "ALLOW")
    if action != "ALLOW":
        raise spec.error("action", f"{action} is not supported (ALLOW only)")
    # An ALLOW policy without rules allows nothing, as in Istio.
    rules = [_rule(rule) for rule in spec.items("rules")]
    spec.done()
    metadata = document["metadata"]
    return AuthorizationPolicy(metadata["name"], metadata.get("namespace", "default"), selector, rules)


def _selector(spec: Fields) -> dict[str, str] | None:
    selector = spec.nested("selector")
    if selector is None:
        return None
    labels = selector.string_map("matchLabels")
    selector.done()
    return labels


def _rule(rule: Fields) -> AuthorizationRule:
    principals = []
    for entry in rule.items("from", required=True):
        source = entry.nested("source", required=True)
        names = source.strings("principals", required=True)
        for name in names:
            if "*" in name:
                raise source.error("principals", f"{name!r}: wildcard principals are not supported")
        principals += names
        source.done()
        entry.done()
    rule.done()
    return AuthorizationRule(principals)
