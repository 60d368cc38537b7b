"""Who may talk to whom: mutual TLS everywhere, only the app-service calls the
model-service, and browsers call the app-service only from the frontend's page."""

import re
from collections.abc import Mapping

from sentiment_devtools.manifests.model import Manifests, Workload, labels_match, namespace, ref

PRINCIPAL = re.compile(r"[^/]+/ns/([^/]+)/sa/([^/]+)")  # <trust domain>/ns/<namespace>/sa/<service account>
HTTPS_PORT = 443


def mutual_tls_is_strict(m: Manifests) -> list[str]:
    """Each namespace with pods has a namespace-wide STRICT PeerAuthentication, and no policy loosens it."""
    problems = []
    policies = m.of_kind("PeerAuthentication")
    for ns in sorted({workload.namespace for workload in m.workloads()}):
        wide = [p for p in policies if namespace(p) == ns and not p["spec"].get("selector")]
        if not any(_mode(p["spec"]) == "STRICT" for p in wide):
            problems.append(
                f"namespace {ns}: no PeerAuthentication without a selector sets mtls.mode STRICT, so its pods "
                "accept plain-text calls from outside the mesh"
            )
        for policy in (p for p in policies if namespace(p) == ns):
            modes = {"mtls": _mode(policy["spec"])}
            ports = policy["spec"].get("portLevelMtls", {})
            modes |= {f"port {port}": mtls.get("mode", "UNSET") for port, mtls in ports.items()}
            problems += [
                f"{ref(policy)}: {where} sets mode {mode}: only STRICT (or UNSET, inheriting it) keeps mutual TLS"
                for where, mode in modes.items()
                if mode not in ("STRICT", "UNSET")
            ]
    return problems


def _mode(spec: Mapping) -> str:
    return (spec.get("mtls") or {}).get("mode", "UNSET")


def only_the_app_service_calls_the_model_service(m: Manifests) -> list[str]:
    """ALLOW AuthorizationPolicies select every model-service pod, and every caller they allow is the existing
    service account the app-service's pods run as: no other identity, no rule without `from`."""
    app_accounts = {
        (workload.namespace, workload.pod["spec"].get("serviceAccountName", "default"))
        for workload in m.app_workloads(("app-service",))
    }
    model_services = m.app_workloads(("model-service",))
    policies = [
        policy
        for policy in m.of_kind("AuthorizationPolicy")
        if policy["spec"].get("action", "ALLOW") == "ALLOW" and any(_selects(policy, w) for w in model_services)
    ]
    problems = [
        f"{workload.ref}: no ALLOW AuthorizationPolicy selects its pods, so any workload may call it"
        for workload in model_services
        if not any(_selects(policy, workload) for policy in policies)
    ]
    allowed: set[tuple[str, str]] = set()
    for policy in policies:
        for position, rule in enumerate(policy["spec"].get("rules", [])):
            sources = [entry["source"] for entry in rule.get("from", [])]
            if not sources:
                problems.append(f"{ref(policy)}: rule {position} has no `from`, so it allows every caller")
            for source in sources:
                problems += _source_problems(m, policy, source, app_accounts)
                allowed |= {found.groups() for found in map(PRINCIPAL.fullmatch, source.get("principals", [])) if found}
    if policies:
        problems += [
            f"no AuthorizationPolicy of the model-service allows the app-service's service account {account} "
            f"(namespace {ns}), so the app-service cannot call it"
            for ns, account in sorted(app_accounts - allowed)
        ]
    return problems


def _selects(policy: Mapping, workload: Workload) -> bool:
    """An AuthorizationPolicy applies to the pods of its namespace its selector matches (all of them without one)."""
    selector = (policy["spec"].get("selector") or {}).get("matchLabels", {})
    return namespace(policy) == workload.namespace and labels_match(selector, workload.pod_labels)


def _source_problems(m: Manifests, policy: Mapping, source: Mapping, app_accounts: set[tuple[str, str]]) -> list[str]:
    principals = source.get("principals")
    if not principals:
        return [f"{ref(policy)}: a source without principals ({source}) allows callers that are not the app-service"]
    problems = []
    for principal in principals:
        found = PRINCIPAL.fullmatch(principal)
        if found is None or found.groups() not in app_accounts:
            accounts = ", ".join(f"{ns}/{account}" for ns, account in sorted(app_accounts))
            problems.append(
                f"{ref(policy)}: allows {principal}, which is not the service account of the app-service's pods "
                f"({accounts})"
            )
        elif m.get("ServiceAccount", found[2], found[1]) is None:
            problems.append(f"{ref(policy)}: allows {principal}, and ServiceAccount/{found[2]} does not exist")
    return problems


def cors_allows_only_the_frontend(m: Manifests) -> list[str]:
    """Every app-service version allows exactly the frontend's public origin (no `*`, no other site)."""
    origins = frontend_public_origins(m)
    problems = []
    for workload in m.app_workloads(("app-service",)):
        for container in workload.containers:
            value = m.environment(workload, container).get("CORS_ALLOWED_ORIGINS", "")
            configured = [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
            if sorted(configured) != sorted(origins):
                problems.append(
                    f"{workload.ref}: CORS_ALLOWED_ORIGINS is {value!r}; it must be exactly the frontend's public "
                    f"origin {', '.join(sorted(origins)) or '(none: no Gateway serves the app-frontend over HTTPS)'}"
                )
    return problems


def frontend_public_origins(m: Manifests) -> set[str]:
    """https://<host>[:port] for every host a Gateway serves the app-frontend on over HTTPS."""
    origins = set()
    for virtual_service in m.of_kind("VirtualService"):
        ns = namespace(virtual_service)
        if not any(_is_frontend(m.service_for_host(host, ns)) for host in _destination_hosts(virtual_service)):
            continue
        for gateway_name in virtual_service["spec"].get("gateways", []):
            gateway = m.get("Gateway", gateway_name.rpartition("/")[2], gateway_name.rpartition("/")[0] or ns)
            for server in (gateway or {}).get("spec", {}).get("servers", []):
                if server["port"].get("protocol") != "HTTPS":
                    continue
                port = "" if server["port"]["number"] == HTTPS_PORT else f":{server['port']['number']}"
                origins |= {
                    f"https://{host}{port}" for host in virtual_service["spec"]["hosts"] if host in server["hosts"]
                }
    return origins


def _destination_hosts(virtual_service: Mapping) -> list[str]:
    routes = virtual_service["spec"].get("http", [])
    return [destination["destination"]["host"] for route in routes for destination in route.get("route", [])]


def _is_frontend(service: Mapping | None) -> bool:
    return service is not None and service["spec"].get("selector", {}).get("app") == "app-frontend"


def authorization_principals_exist(m: Manifests) -> list[str]:
    """AuthorizationPolicy principals name deployed service accounts that pods run as."""
    problems = []
    accounts_in_use = {(w.namespace, w.pod["spec"].get("serviceAccountName", "default")) for w in m.workloads()}
    for policy in m.of_kind("AuthorizationPolicy"):
        for rule in policy["spec"].get("rules", []):
            for source in (f["source"] for f in rule.get("from", [])):
                for principal in source.get("principals", []):
                    found = re.fullmatch(r"[^/]+/ns/([^/]+)/sa/([^/]+)", principal)
                    if found is None:
                        problems.append(f"{ref(policy)}: principal {principal} is not <trust domain>/ns/<ns>/sa/<name>")
                    elif found.groups() not in accounts_in_use:
                        problems.append(
                            f"{ref(policy)}: allows {principal}, but no pod runs as service account "
                            f"{found[2]} in namespace {found[1]}"
                        )
    return problems
