"""Semantic checks: the rendered resources agree with each other and with the
services' contract. Each check takes the rendered manifests and returns its
problems, one sentence each, naming the resource ("Kind/name: ...")."""

import json
import re
from collections.abc import Callable, Mapping
from urllib.parse import SplitResult, urlsplit

from k8scheck import contract, pod_security, security
from k8scheck.manifests import (
    Manifests,
    Workload,
    env_references,
    label_selector_matches,
    namespace,
    ref,
)

# The share of new visitors the canary gets (docs/deployment.md): the frontend
# VirtualService must say the same, so a swapped 10/90 fails.
CANARY_WEIGHT = 10


def selectors_match_pods(m: Manifests) -> list[str]:
    """Every selector of pods selects some: Services, Deployments, and Istio's workload selectors."""
    problems = []
    for workload in m.workloads():
        selector = workload.document["spec"]["selector"]
        if not label_selector_matches(selector, workload.pod_labels):
            problems.append(f"{workload.ref}: its selector {selector} does not match its own pod labels")
    selectors = [(service, service["spec"].get("selector")) for service in m.of_kind("Service")]
    selectors += [(gateway, gateway["spec"].get("selector")) for gateway in m.of_kind("Gateway")]
    selectors += [(f, f["spec"].get("workloadSelector", {}).get("labels")) for f in m.of_kind("EnvoyFilter")]
    for kind in ("AuthorizationPolicy", "PeerAuthentication"):
        selectors += [(policy, policy["spec"].get("selector", {}).get("matchLabels")) for policy in m.of_kind(kind)]
    for document, selector in selectors:
        if selector and not m.pods_selected(selector, namespace(document)):
            problems.append(f"{ref(document)}: selects pods labelled {selector}, and no Deployment's pods are")
    return problems


def service_ports_exist(m: Manifests) -> list[str]:
    """A Service's named targetPort is a port the selected containers declare."""
    problems = []
    for service in m.of_kind("Service"):
        for workload in m.pods_selected(service["spec"].get("selector") or {}, namespace(service)):
            declared = {port.get("name") for container in workload.containers for port in container.get("ports", [])}
            for port in service["spec"]["ports"]:
                target = port.get("targetPort")
                if isinstance(target, str) and target not in declared:
                    problems.append(
                        f"{ref(service)}: port {port['name']} targets {target!r}, which {workload.ref} "
                        f"does not declare (it has {sorted(declared)})"
                    )
    return problems


def destination_rule_subsets(m: Manifests) -> list[str]:
    """Each DestinationRule names a Service, and each subset selects some of its pods."""
    problems = []
    for rule in m.of_kind("DestinationRule"):
        service = m.service_for_host(rule["spec"]["host"], namespace(rule))
        if service is None:
            problems.append(f"{ref(rule)}: host {rule['spec']['host']} is no Service")
            continue
        for subset in rule["spec"].get("subsets", []):
            selector = service["spec"]["selector"] | subset.get("labels", {})
            if not m.pods_selected(selector, namespace(service)):
                problems.append(
                    f"{ref(rule)}: subset {subset['name']} selects pods labelled {selector}, "
                    "and no Deployment's pods are"
                )
        policy = rule["spec"].get("trafficPolicy", {})
        if "connectionPool" not in policy or "outlierDetection" not in policy:
            problems.append(f"{ref(rule)}: no circuit breaking (trafficPolicy connectionPool and outlierDetection)")
    return problems


def virtual_service_routes(m: Manifests) -> list[str]:
    """Gateways, hosts, destinations (host, port, subset) exist; a catch-all route comes last."""
    problems = []
    external_hosts = {host for entry in m.of_kind("ServiceEntry") for host in entry["spec"]["hosts"]}
    for virtual_service in m.of_kind("VirtualService"):
        spec, ns = virtual_service["spec"], namespace(virtual_service)
        for gateway_name in spec.get("gateways", ["mesh"]):
            if gateway_name == "mesh":
                continue
            gateway = m.get("Gateway", gateway_name.rpartition("/")[2], gateway_name.rpartition("/")[0] or ns)
            if gateway is None:
                problems.append(f"{ref(virtual_service)}: gateway {gateway_name} does not exist")
                continue
            served = {host for server in gateway["spec"]["servers"] for host in server["hosts"]}
            problems += [
                f"{ref(virtual_service)}: host {host} is not served by Gateway/{gateway_name}"
                for host in spec["hosts"]
                if host not in served
            ]
        routes = spec.get("http", [])
        for position, route in enumerate(routes):
            name = route.get("name", f"http[{position}]")
            if "match" not in route and position != len(routes) - 1:
                problems.append(
                    f"{ref(virtual_service)}: route {name} matches everything, so the routes after it never apply"
                )
            for destination in (d["destination"] for d in route.get("route", [])):
                problems += [
                    f"{ref(virtual_service)}: route {name}: {problem}"
                    for problem in _destination_problems(m, destination, ns, external_hosts)
                ]
    return problems


def _destination_problems(m: Manifests, destination: Mapping, ns: str, external_hosts: set[str]) -> list[str]:
    host = destination["host"]
    target = m.service_for_host(host, ns)
    if target is None:
        return [] if host in external_hosts else [f"destination host {host} is no Service nor ServiceEntry host"]
    problems = []
    ports = {port["port"] for port in target["spec"]["ports"]}
    port = destination.get("port", {}).get("number")
    if port is None and len(ports) > 1:
        problems.append(f"destination {host} names no port, and its Service has several {sorted(ports)}")
    elif port is not None and port not in ports:
        problems.append(f"destination {host} port {port} is not a port of its Service {sorted(ports)}")
    subset = destination.get("subset")
    if subset is not None:
        subsets = {
            s["name"]
            for rule in m.of_kind("DestinationRule")
            if m.service_for_host(rule["spec"]["host"], namespace(rule)) == target
            for s in rule["spec"].get("subsets", [])
        }
        if subset not in subsets:
            problems.append(f"destination {host} subset {subset} is in no DestinationRule (has {sorted(subsets)})")
    return problems


def canary_weights(m: Manifests, canary_weight: int = CANARY_WEIGHT) -> list[str]:
    """Weighted splits add up to 100, give the canary its documented share and set the cookie of their subset."""
    problems = []
    for virtual_service in m.of_kind("VirtualService"):
        for route in virtual_service["spec"].get("http", []):
            destinations = route.get("route", [])
            if len(destinations) < 2:
                continue
            name = route.get("name", "a weighted route")
            weights = {d["destination"].get("subset"): d.get("weight", 0) for d in destinations}
            total = sum(weights.values())
            if total != 100:
                problems.append(f"{ref(virtual_service)}: route {name}: weights {weights} add up to {total}, not 100")
            if "canary" in weights and weights["canary"] != canary_weight:
                problems.append(
                    f"{ref(virtual_service)}: route {name}: the canary gets {weights['canary']}% of new "
                    f"visitors; the documented share is {canary_weight}% (docs/deployment.md)"
                )
            for destination in destinations:
                subset = destination["destination"].get("subset")
                cookie = destination.get("headers", {}).get("response", {}).get("add", {}).get("set-cookie", "")
                if not cookie.startswith(f"{contract.VERSION_COOKIE}={subset};"):
                    problems.append(
                        f"{ref(virtual_service)}: route {name}: the {subset} destination must set the cookie "
                        f"{contract.VERSION_COOKIE}={subset}, and sets {cookie!r}"
                    )
    return problems


def cookie_matches_are_anchored(m: Manifests) -> list[str]:
    """A cookie route matches exactly its version's cookie, wherever it stands in the Cookie header."""
    problems = []
    for virtual_service in m.of_kind("VirtualService"):
        for route in virtual_service["spec"].get("http", []):
            subsets = {d["destination"].get("subset") for d in route.get("route", [])}
            for match in route.get("match", []):
                cookie_match = match.get("headers", {}).get("cookie")
                if cookie_match is None:
                    continue
                for subset in subsets:
                    problems += [
                        f"{ref(virtual_service)}: route {route.get('name')}: {problem}"
                        for problem in _cookie_match_problems(cookie_match, subset)
                    ]
    return problems


def _cookie_match_problems(cookie_match: Mapping, subset: str) -> list[str]:
    if "regex" not in cookie_match:
        return [f"the cookie match {cookie_match} must be a regex: the Cookie header holds every cookie"]
    # Envoy matches header regexes (RE2) against the whole value, as fullmatch does.
    regex = re.compile(cookie_match["regex"])
    cookie = f"{contract.VERSION_COOKIE}={subset}"
    must_match = [cookie, f"a=1; {cookie}; b=2", f"a=1; {cookie}", f"{cookie}; b=2"]
    must_not_match = [f"{cookie}X", f"x{cookie}", f"{contract.VERSION_COOKIE}=", f"a=1; x{cookie}; b=2"]
    problems = [
        f"cookie regex {regex.pattern!r} does not match {text!r}, the {subset} cookie"
        for text in must_match
        if not regex.fullmatch(text)
    ]
    problems += [
        f"cookie regex {regex.pattern!r} matches {text!r}, which is not the {subset} cookie (unanchored?)"
        for text in must_not_match
        if regex.fullmatch(text)
    ]
    return problems


def data_folders_are_mounted(m: Manifests) -> list[str]:
    """Where a service keeps data is a mounted volume claim; /tmp is an emptyDir (the root filesystem is read-only).

    Init containers too: the model-service's prepare-model writes the model where the server reads it."""
    problems = []
    for workload in m.app_workloads(contract.SERVICES):
        for container in workload.all_containers:
            mounts = {mount["mountPath"]: mount for mount in container.get("volumeMounts", [])}
            wanted = contract.data_folders(workload.app, m.environment(workload, container))
            wanted_kinds = dict.fromkeys(wanted.values(), "persistentVolumeClaim") | {contract.TMP_DIR: "emptyDir"}
            for folder, volume_kind in wanted_kinds.items():
                mount = mounts.get(folder)
                volume = workload.volumes.get(mount["name"], {}) if mount else {}
                if mount is None or mount.get("readOnly") or volume_kind not in volume:
                    setting = next((s for s, f in wanted.items() if f == folder), "its temporary files")
                    problems.append(
                        f"{workload.ref}: {container['name']} writes to {folder} ({setting}), but no "
                        f"writable {volume_kind} is mounted there (mounts: {sorted(mounts)})"
                    )
    return problems


def probes_and_metrics_paths(m: Manifests) -> list[str]:
    """Probes and the metrics annotations point at the paths and port the services serve."""
    problems = []
    expected_annotations = {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(contract.CONTAINER_PORT),
        "prometheus.io/path": contract.METRICS_PATH,
    }
    for workload in m.app_workloads(contract.SERVICES):
        for key, value in expected_annotations.items():
            if workload.pod_annotations.get(key) != value:
                problems.append(
                    f"{workload.ref}: pod annotation {key} is {workload.pod_annotations.get(key)!r}, "
                    f"must be {value!r}: the Istio agent scrapes the app's metrics from it"
                )
        for container in workload.containers:
            ports = {port.get("name"): port["containerPort"] for port in container.get("ports", [])}
            if m.environment(workload, container).get("PORT") != str(contract.CONTAINER_PORT):
                problems.append(f"{workload.ref}: {container['name']} must listen on PORT={contract.CONTAINER_PORT}")
            for probe, path in (("livenessProbe", contract.LIVENESS_PATH), ("readinessProbe", contract.READINESS_PATH)):
                http_get = container.get(probe, {}).get("httpGet")
                if http_get is None:
                    problems.append(f"{workload.ref}: {container['name']} has no HTTP {probe} (on {path})")
                    continue
                if http_get.get("path") != path:
                    problems.append(
                        f"{workload.ref}: {container['name']} {probe} asks {http_get.get('path')}, but "
                        f"the service answers it on {path}"
                    )
                if ports.get(http_get["port"], http_get["port"]) != contract.CONTAINER_PORT:
                    problems.append(
                        f"{workload.ref}: {container['name']} {probe} port {http_get['port']} is not "
                        f"the service's port {contract.CONTAINER_PORT}"
                    )
    return problems


def references_exist(m: Manifests) -> list[str]:
    """Every ConfigMap, Secret, key, claim and service account a pod reads exists; no Secret value is empty."""
    problems = []
    for workload in m.workloads():
        ns, pod = workload.namespace, workload.pod["spec"]
        account = pod.get("serviceAccountName")
        if account and m.get("ServiceAccount", account, ns) is None:
            problems.append(f"{workload.ref}: service account {account} does not exist")
        for volume in workload.volumes.values():
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim and m.get("PersistentVolumeClaim", claim, ns) is None:
                problems.append(f"{workload.ref}: volume {volume['name']} claims {claim}, which does not exist")
        for container in workload.all_containers:
            for kind, name, key, optional in env_references(container):
                data = m.config_map_data(name, ns) if kind == "ConfigMap" else m.secret_data(name, ns)
                if optional:
                    continue
                if data is None:
                    problems.append(f"{workload.ref}: {container['name']} reads {kind}/{name}, which does not exist")
                elif key and key not in data:
                    problems.append(
                        f"{workload.ref}: {container['name']} reads key {key} of {kind}/{name}, "
                        f"which has no such key (it has {sorted(data)})"
                    )
    for config in m.of_kind("AlertmanagerConfig"):
        for receiver in config["spec"].get("receivers", []):
            for email in receiver.get("emailConfigs", []):
                if "authPassword" in email:
                    selector = email["authPassword"]
                    data = m.secret_data(selector["name"], namespace(config)) or {}
                    if selector["key"] not in data:
                        problems.append(
                            f"{ref(config)}: receiver {receiver['name']} reads key {selector['key']} of "
                            f"Secret/{selector['name']}, which does not exist"
                        )
    for secret in m.of_kind("Secret"):
        data = m.secret_data(secret["metadata"]["name"], namespace(secret)) or {}
        empty = sorted(key for key, value in data.items() if not value)
        if empty:
            problems.append(f"{ref(secret)}: {', '.join(empty)} is empty")
    return problems


def versions_are_consistent(m: Manifests) -> list[str]:
    """Each app pod's version label names an arm, and its APP_VERSION (which labels its metrics) says the same."""
    problems = []
    for workload in m.app_workloads(contract.SERVICES):
        version = workload.pod_labels.get("version")
        if version not in contract.VERSIONS:
            problems.append(f"{workload.ref}: pod label version={version}, must be one of {contract.VERSIONS}")
        for container in workload.containers:
            app_version = m.environment(workload, container).get("APP_VERSION")
            if app_version != version:
                problems.append(
                    f"{workload.ref}: {container['name']} has APP_VERSION={app_version}, but its pods are "
                    f"labelled version={version}: its metrics would count for the wrong arm"
                )
    return problems


def model_is_pinned(m: Manifests) -> list[str]:
    """Every model-service pins its model: a published release by its version and the sha256 of its artifact, or
    a version trained in place (MODEL_SOURCE=trained), which its own manifest pins, and MODEL_SHA256 if set."""
    problems = []
    for workload in m.app_workloads(("model-service",)):
        for container in workload.all_containers:
            where = f"{workload.ref}: {container['name']}"
            env = m.environment(workload, container)
            source = env.get("MODEL_SOURCE", contract.MODEL_SOURCE_DEFAULT)
            if source not in contract.MODEL_SOURCES:
                problems.append(f"{where}: MODEL_SOURCE={source!r} is none of {contract.MODEL_SOURCES}")
            if not re.fullmatch(r"v\d+\.\d+\.\d+", env.get("MODEL_VERSION", "")):
                problems.append(f"{where}: MODEL_VERSION={env.get('MODEL_VERSION')!r} pins no release (vX.Y.Z)")
            sha256 = env.get("MODEL_SHA256", "")
            if source != "trained" and not re.fullmatch(r"[0-9a-f]{64}", sha256):
                problems.append(
                    f"{where}: MODEL_SHA256={sha256!r} pins no sha256: copy the `sha256` of the published release's "
                    "own model.json (docs/model.md)"
                )
            if source == "trained" and sha256 and not re.fullmatch(r"[0-9a-f]{64}", sha256):
                problems.append(f"{where}: MODEL_SHA256={sha256!r} is no sha256 (leave it empty, or pin one)")
            if env.get("MODEL_ALLOW_UNPINNED", "false").lower() != "false":
                problems.append(f"{where}: MODEL_ALLOW_UNPINNED must stay false")
    return problems


NATIVE_SIDECAR_ANNOTATION = "sidecar.istio.io/nativeSidecar"


def model_is_prepared(m: Manifests) -> list[str]:
    """An init container of every model-service pod runs `model-service prepare` on the model its server serves:
    the same image, the same model settings, the same volume at the same folder; and Istio's proxy runs as a
    native sidecar, so that it already forwards the downloads of that init container."""
    problems = []
    for workload in m.app_workloads(("model-service",)):
        preparers = [c for c in workload.init_containers if _runs_prepare(c)]
        if not preparers:
            problems.append(
                f"{workload.ref}: no init container runs `model-service prepare`: with MODEL_SOURCE=trained the "
                "server never becomes ready (nothing trains its model), with release it downloads it itself"
            )
            continue
        if workload.pod_annotations.get(NATIVE_SIDECAR_ANNOTATION) != "true":
            problems.append(
                f'{workload.ref}: must annotate its pods {NATIVE_SIDECAR_ANNOTATION}: "true": otherwise Istio\'s '
                f"proxy starts after {preparers[0]['name']}, whose downloads then reach nothing"
            )
        for preparer in preparers:
            for server in workload.containers:
                problems += [
                    f"{workload.ref}: {preparer['name']} {problem}"
                    for problem in _prepare_problems(m, workload, preparer, server)
                ]
    return problems


def _runs_prepare(container: Mapping) -> bool:
    return tuple([*container.get("command", []), *container.get("args", [])][:2]) == contract.PREPARE_COMMAND


def _prepare_problems(m: Manifests, workload: Workload, preparer: Mapping, server: Mapping) -> list[str]:
    problems = []
    if preparer["image"] != server["image"]:
        problems.append(
            f"runs image {preparer['image']!r}, and {server['name']} {server['image']!r}: the model must be prepared "
            "by the code that serves it"
        )
    prepared, served = m.environment(workload, preparer), m.environment(workload, server)
    problems += [
        f"prepares {setting}={prepared.get(setting)!r}, and {server['name']} serves {setting}={served.get(setting)!r}"
        for setting in contract.MODEL_SETTINGS
        if prepared.get(setting) != served.get(setting)
    ]
    cache = served.get("MODEL_CACHE_DIR", contract.MODEL_CACHE_DIR_DEFAULT)
    written = {mount["mountPath"]: mount["name"] for mount in preparer.get("volumeMounts", [])}.get(cache)
    read = {mount["mountPath"]: mount["name"] for mount in server.get("volumeMounts", [])}.get(cache)
    if written != read:
        problems.append(
            f"writes the model to volume {written!r} at {cache}, and {server['name']} reads it from volume {read!r}"
        )
    return problems


def pods_are_hardened(m: Manifests) -> list[str]:
    """Beyond the Pod Security Standards (pod_security.py): a read-only root filesystem, requests and limits."""
    problems = []
    for workload in m.workloads():
        for container in workload.all_containers:
            where = f"{workload.ref}: {container['name']}"
            if container.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where} must set readOnlyRootFilesystem: true")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                missing = [r for r in ("cpu", "memory") if r not in resources.get(bound, {})]
                if missing:
                    problems.append(f"{where} has no {bound} for {', '.join(missing)}")
    return problems


def images_are_pinned(m: Manifests) -> list[str]:
    """Every image is a registry/name:tag set by `images:` in k8s/kustomization.yaml, never :latest."""
    problems = []
    for workload in m.workloads():
        for container in workload.all_containers:
            image = container["image"]
            if image == "auto" and workload.pod_annotations.get("inject.istio.io/templates") == "gateway":
                continue  # Istio's injector sets the gateway's proxy image
            name, _, tag = image.rpartition(":")
            if "/" not in name or not tag or tag == "latest":
                problems.append(
                    f"{workload.ref}: {container['name']} runs image {image!r}: give it a registry name "
                    "and a tag in the `images:` of k8s/kustomization.yaml"
                )
    return problems


def outbound_hosts_are_declared(m: Manifests) -> list[str]:
    """The hosts the model-service downloads from are ServiceEntry hosts, so REGISTRY_ONLY egress lets them through:
    the training data's (MODEL_SOURCE=trained, in prepare-model) or the release's (MODEL_SOURCE=release)."""
    problems = []
    declared = {host for entry in m.of_kind("ServiceEntry") for host in entry["spec"]["hosts"]}
    for workload in m.app_workloads(("model-service",)):
        for container in workload.all_containers:
            for what, url in _downloads(m.environment(workload, container), container):
                hosts = [url.hostname, *(contract.GITHUB_ASSET_HOSTS if url.hostname == "github.com" else ())]
                problems += [
                    f"{workload.ref}: {container['name']} downloads {what} from {host}, which no ServiceEntry declares"
                    for host in hosts
                    if host not in declared
                ]
    return problems


def _downloads(env: Mapping[str, str], container: Mapping) -> list[tuple[str, SplitResult]]:
    """What a model-service container downloads, and from where: (what, URL)."""
    if env.get("MODEL_SOURCE", contract.MODEL_SOURCE_DEFAULT) == "trained":
        if not _runs_prepare(container):
            return []  # the server only reads the trained model
        arguments = [*container.get("command", []), *container.get("args", [])]
        if "--demo" in arguments:
            return []
        data = arguments[arguments.index("--data") + 1] if "--data" in arguments else contract.TRAINING_DATA_URL_DEFAULT
        urls = [("the training data", urlsplit(data))]
    else:
        template = env.get("MODEL_URL_TEMPLATE", contract.MODEL_URL_TEMPLATE_DEFAULT)
        urls = [("the model", urlsplit(template))]
    return [(what, url) for what, url in urls if url.scheme in ("http", "https")]


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


def service_monitors_select_services(m: Manifests) -> list[str]:
    """Each ServiceMonitor selects Services and ports that exist, and every scraped app's Service is selected."""
    problems = []
    covered: set[str] = set()
    for monitor in m.of_kind("ServiceMonitor"):
        selected = m.services_monitored_by(monitor)
        if not selected:
            problems.append(f"{ref(monitor)}: selects no Service (selector {monitor['spec']['selector']})")
        for service in selected:
            covered.add(ref(service))
            ports = {port.get("name") for port in service["spec"]["ports"]}
            problems += [
                f"{ref(monitor)}: scrapes port {endpoint['port']}, which {ref(service)} does not have "
                f"(it has {sorted(ports)})"
                for endpoint in monitor["spec"]["endpoints"]
                if endpoint.get("port") not in ports
            ]
    for service in m.of_kind("Service"):
        scraped = any(
            w.pod_annotations.get("prometheus.io/scrape") == "true"
            for w in m.pods_selected(service["spec"].get("selector") or {}, namespace(service))
        )
        if scraped and ref(service) not in covered:
            problems.append(f"{ref(service)}: its pods export metrics, and no ServiceMonitor selects it")
    return problems


def rules_select_scraped_targets(m: Manifests) -> list[str]:
    """A rule's job, service and namespace matchers name what the ServiceMonitors scrape (job = Service name)."""
    targets = {"job": set(), "service": set(), "namespace": set()}
    for monitor in m.of_kind("ServiceMonitor"):
        for service in m.services_monitored_by(monitor):
            targets["job"].add(service["metadata"]["name"])
            targets["service"].add(service["metadata"]["name"])
            targets["namespace"].add(namespace(service))
    problems = []
    matcher = re.compile(r'\b(job|service|namespace)\s*(=~|=)\s*"([^"]*)"')
    for rule_set in m.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                for label, operator, value in matcher.findall(rule["expr"]):
                    known = targets[label]
                    matches = value in known if operator == "=" else any(re.fullmatch(value, k) for k in known)
                    if not matches:
                        problems.append(
                            f'{ref(rule_set)}: rule {name} selects {label}{operator}"{value}", and no '
                            f"scraped target has it (scraped: {sorted(known)})"
                        )
    return problems


# critical pages someone now; warning makes a ticket for working hours (docs/monitoring.md).
SEVERITIES = ("critical", "warning")
ALERT_ANNOTATIONS = ("summary", "description", "runbook_url")


def alerts_are_actionable(m: Manifests) -> list[str]:
    """Every alert says how urgent it is, what is wrong, and where the runbook is."""
    problems = []
    for rule_set in m.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in (rule for rule in group["rules"] if "alert" in rule):
                severity = rule.get("labels", {}).get("severity")
                if severity not in SEVERITIES:
                    problems.append(
                        f"{ref(rule_set)}: alert {rule['alert']} has severity {severity!r}, not one of {SEVERITIES}"
                    )
                annotations = rule.get("annotations", {})
                missing = [name for name in ALERT_ANNOTATIONS if not annotations.get(name)]
                if missing:
                    problems.append(f"{ref(rule_set)}: alert {rule['alert']} lacks the annotations {missing}")
    return problems


def dashboards_are_valid(m: Manifests) -> list[str]:
    """Dashboard ConfigMaps carry Grafana's label and valid dashboard JSON with a unique uid."""
    problems = []
    uids: dict[str, str] = {}
    for config_map in m.of_kind("ConfigMap"):
        if not config_map["metadata"]["name"].startswith("grafana-dashboard"):
            continue
        if config_map["metadata"].get("labels", {}).get("grafana_dashboard") != "1":
            problems.append(f'{ref(config_map)}: lacks the label grafana_dashboard: "1" Grafana\'s sidecar loads')
        for key, text in config_map.get("data", {}).items():
            try:
                dashboard = json.loads(text)
            except json.JSONDecodeError as error:
                problems.append(f"{ref(config_map)}: {key} is not JSON: {error}")
                continue
            for field in ("uid", "title", "panels"):
                if not dashboard.get(field):
                    problems.append(f"{ref(config_map)}: {key} has no {field}")
            uid = dashboard.get("uid")
            if uid in uids:
                problems.append(f"{ref(config_map)}: {key} has the uid {uid} of {uids[uid]}")
            uids[uid] = key
    return problems


def claims_bind(m: Manifests) -> list[str]:
    """A claim that names its PersistentVolume can bind to it: same class, access modes and enough capacity."""
    problems = []
    for claim in m.of_kind("PersistentVolumeClaim"):
        volume_name = claim["spec"].get("volumeName")
        if not volume_name:
            continue
        volume = m.get("PersistentVolume", volume_name)
        if volume is None:
            problems.append(f"{ref(claim)}: names PersistentVolume/{volume_name}, which does not exist")
            continue
        if claim["spec"].get("storageClassName", "") != volume["spec"].get("storageClassName", ""):
            problems.append(f"{ref(claim)}: storage class differs from PersistentVolume/{volume_name}'s")
        if not set(claim["spec"]["accessModes"]) <= set(volume["spec"]["accessModes"]):
            problems.append(f"{ref(claim)}: access modes are not all offered by PersistentVolume/{volume_name}")
        requested, capacity = claim["spec"]["resources"]["requests"]["storage"], volume["spec"]["capacity"]["storage"]
        if _quantity(requested) > _quantity(capacity):
            problems.append(f"{ref(claim)}: asks more storage than PersistentVolume/{volume_name} has")
    return problems


def _quantity(text: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", text).groups()
    return int(number) * units.get(unit, 1)


# Every check but canary_weights, which also takes the documented share.
CHECKS: tuple[Callable[[Manifests], list[str]], ...] = (
    selectors_match_pods,
    service_ports_exist,
    destination_rule_subsets,
    virtual_service_routes,
    cookie_matches_are_anchored,
    data_folders_are_mounted,
    probes_and_metrics_paths,
    references_exist,
    versions_are_consistent,
    model_is_pinned,
    model_is_prepared,
    pods_are_hardened,
    pod_security.pods_meet_the_restricted_standard,
    images_are_pinned,
    outbound_hosts_are_declared,
    authorization_principals_exist,
    security.mutual_tls_is_strict,
    security.only_the_app_service_calls_the_model_service,
    security.cors_allows_only_the_frontend,
    service_monitors_select_services,
    rules_select_scraped_targets,
    alerts_are_actionable,
    dashboards_are_valid,
    claims_bind,
)
