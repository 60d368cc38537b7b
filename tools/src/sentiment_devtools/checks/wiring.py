"""The resources agree with each other: selectors select pods, one Service per service selects both arms, named
ports exist, everything a pod reads exists, a claim that names its volume can bind to it, and every pod of a
ReadWriteOnce claim can attach it."""

import re

from sentiment_devtools.checks.database import generated_secrets
from sentiment_devtools.manifests.model import (
    Manifests,
    Workload,
    env_references,
    label_selector_matches,
    namespace,
    ref,
)
from sentiment_devtools.system import SERVICES


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


def services_select_every_arm(m: Manifests) -> list[str]:
    """Each service's one Service selects `app` only, so that both arms are behind it and Istio picks the arm."""
    problems = []
    for service in SERVICES:
        found = [document for document in m.of_kind("Service") if document["metadata"]["name"] == service]
        if len(found) != 1:
            problems.append(f"{service}: {len(found)} Services, not one")
        problems += [
            f"{ref(document)}: selects {document['spec'].get('selector')}: a Service selects `app` only "
            f"({{'app': '{service}'}}), and Istio's subsets pick the version"
            for document in found
            if document["spec"].get("selector") != {"app": service}
        ]
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


def references_exist(m: Manifests) -> list[str]:
    """Every ConfigMap, Secret, key, claim and service account a pod reads exists (a Secret the database operator
    makes counts, with the keys it writes); no Secret value is empty."""
    problems = []
    for workload in m.workloads():
        ns, pod = workload.namespace, workload.pod["spec"]
        generated = {name: dict.fromkeys(keys, "") for name, keys in generated_secrets(m, ns).items()}

        def secret(name: str, ns: str = ns, generated: dict = generated) -> dict | None:
            data = m.secret_data(name, ns)
            return generated.get(name) if data is None else data

        account = pod.get("serviceAccountName")
        if account and m.get("ServiceAccount", account, ns) is None:
            problems.append(f"{workload.ref}: service account {account} does not exist")
        for volume in workload.volumes.values():
            claim = volume.get("persistentVolumeClaim", {}).get("claimName")
            if claim and m.get("PersistentVolumeClaim", claim, ns) is None:
                problems.append(f"{workload.ref}: volume {volume['name']} claims {claim}, which does not exist")
            if "secret" in volume:
                name = volume["secret"]["secretName"]
                data = secret(name)
                if data is None:
                    problems.append(
                        f"{workload.ref}: volume {volume['name']} mounts Secret/{name}, which does not exist"
                    )
                for item in volume["secret"].get("items", []) if data is not None else []:
                    if item["key"] not in data:
                        problems.append(
                            f"{workload.ref}: volume {volume['name']} mounts key {item['key']} of Secret/{name}, "
                            f"which has no such key (it has {sorted(data)})"
                        )
        for container in workload.all_containers:
            for kind, name, key, optional in env_references(container):
                data = m.config_map_data(name, ns) if kind == "ConfigMap" else secret(name)
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


HOSTNAME = "kubernetes.io/hostname"


def read_write_once_claims_attach(m: Manifests) -> list[str]:
    """A ReadWriteOnce claim that several pods may mount at once (pods of several Deployments, several replicas, or
    a RollingUpdate's new pod beside the old) is attached to one node at a time on block storage (EBS, PD, Azure
    Disk): each of those pods must be required, by a pod affinity on the node, to run beside the others."""
    problems = []
    for claim in m.of_kind("PersistentVolumeClaim"):
        if "ReadWriteOnce" not in claim["spec"].get("accessModes", []):
            continue
        name, ns = claim["metadata"]["name"], namespace(claim)
        mounting = [w for w in m.workloads() if w.namespace == ns and name in _claims(w)]
        if len(mounting) < 2 and not any(_rolls_out_beside_itself(m, w) for w in mounting):
            continue
        for workload in mounting:
            others = [w for w in mounting if w is not workload] + (
                [workload] if _rolls_out_beside_itself(m, workload) else []
            )
            if not any(all(_on_their_node(term, other) for other in others) for term in _node_affinity_terms(workload)):
                beside = sorted(other.ref for other in others if other is not workload)
                beside += ["its own new pod in a rollout"] if workload in others else []
                problems.append(
                    f"{ref(claim)} (ReadWriteOnce): {workload.ref}'s pods mount it beside {' and '.join(beside)}, "
                    "and nothing requires them on one node: on a multi-node cluster with block storage they stay in "
                    "ContainerCreating (Multi-Attach error). Require a podAffinity on kubernetes.io/hostname, give "
                    "each its own claim (with strategy Recreate), or use a ReadWriteMany storage class"
                )
    return problems


def _claims(workload: Workload) -> set[str]:
    return {v["persistentVolumeClaim"]["claimName"] for v in workload.volumes.values() if "persistentVolumeClaim" in v}


def _rolls_out_beside_itself(m: Manifests, workload: Workload) -> bool:
    """Whether two of its pods may run at once: several replicas (its autoscaler's most, where one scales it), or a
    RollingUpdate (the default), whose new pod starts before the old one stops."""
    strategy = workload.document["spec"].get("strategy", {})
    return m.replica_range(workload)[1] > 1 or strategy.get("type", "RollingUpdate") == "RollingUpdate"


def _node_affinity_terms(workload: Workload) -> list[dict]:
    """The pod's required pod-affinity terms that keep it on the node of the pods they select."""
    affinity = workload.pod["spec"].get("affinity", {}).get("podAffinity", {})
    terms = affinity.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    return [term for term in terms if term.get("topologyKey") == HOSTNAME]


def _on_their_node(term: dict, other: Workload) -> bool:
    same_namespace = not term.get("namespaces") or other.namespace in term["namespaces"]
    return same_namespace and label_selector_matches(term.get("labelSelector", {}), other.pod_labels)


def _quantity(text: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", text).groups()
    return int(number) * units.get(unit, 1)
