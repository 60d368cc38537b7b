"""The rendered documents, indexed, with the few questions every check asks:
which pods a selector picks, what a container's environment resolves to."""

import base64
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

# Kinds whose spec.template is a pod template.
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def ref(document: Mapping) -> str:
    """How problems name a document: Kind/name."""
    return f"{document['kind']}/{document['metadata']['name']}"


def namespace(document: Mapping) -> str:
    return document["metadata"].get("namespace", "")


def labels_match(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A plain label map selector (Service, Istio workload selectors)."""
    return all(labels.get(key) == value for key, value in selector.items())


def label_selector_matches(selector: Mapping, labels: Mapping[str, str]) -> bool:
    """A Kubernetes LabelSelector: matchLabels and matchExpressions."""
    if not labels_match(selector.get("matchLabels", {}), labels):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


def disruptions_allowed(budget_spec: Mapping, replicas: int) -> int:
    """How many of `replicas` pods a PodDisruptionBudget lets an eviction take, as the disruption controller counts:
    a percentage of the replicas rounded up, for minAvailable and maxUnavailable alike."""

    def count(value: object) -> int:
        text = str(value)
        return -(-int(text.rstrip("%")) * replicas // 100) if text.endswith("%") else int(text)

    if "minAvailable" in budget_spec:
        return max(replicas - count(budget_spec["minAvailable"]), 0)
    return count(budget_spec["maxUnavailable"]) if "maxUnavailable" in budget_spec else 0


@dataclass(frozen=True)
class Workload:
    """A Deployment (or another pod controller) and its pod template."""

    document: Mapping

    @property
    def ref(self) -> str:
        return ref(self.document)

    @property
    def namespace(self) -> str:
        return namespace(self.document)

    @property
    def pod(self) -> Mapping:
        return self.document["spec"]["template"]

    @property
    def pod_labels(self) -> Mapping[str, str]:
        return self.pod["metadata"].get("labels", {})

    @property
    def pod_annotations(self) -> Mapping[str, str]:
        return self.pod["metadata"].get("annotations", {})

    @property
    def app(self) -> str | None:
        return self.pod_labels.get("app")

    @property
    def containers(self) -> list[Mapping]:
        """The pod's long-running containers (its init containers are not among them)."""
        return self.pod["spec"]["containers"]

    @property
    def init_containers(self) -> list[Mapping]:
        return self.pod["spec"].get("initContainers", [])

    @property
    def all_containers(self) -> list[Mapping]:
        return [*self.init_containers, *self.containers]

    @property
    def volumes(self) -> dict[str, Mapping]:
        return {volume["name"]: volume for volume in self.pod["spec"].get("volumes", [])}


class Manifests:
    def __init__(self, documents: list[dict]):
        self.documents = documents

    def of_kind(self, kind: str) -> list[dict]:
        return [document for document in self.documents if document["kind"] == kind]

    def get(self, kind: str, name: str, namespace_: str = "") -> dict | None:
        for document in self.of_kind(kind):
            if document["metadata"]["name"] == name and namespace(document) == namespace_:
                return document
        return None

    def workloads(self) -> list[Workload]:
        return [Workload(document) for document in self.documents if document["kind"] in WORKLOAD_KINDS]

    def app_workloads(self, apps: tuple[str, ...]) -> list[Workload]:
        return [workload for workload in self.workloads() if workload.app in apps]

    def autoscalers_of(self, workload: Workload) -> list[dict]:
        """The HorizontalPodAutoscalers that scale the workload: their scaleTargetRef names its kind, name and
        apiVersion, in its namespace."""
        document = workload.document
        return [
            autoscaler
            for autoscaler in self.of_kind("HorizontalPodAutoscaler")
            if namespace(autoscaler) == workload.namespace
            and autoscaler["spec"]["scaleTargetRef"]
            == {"apiVersion": document["apiVersion"], "kind": document["kind"], "name": document["metadata"]["name"]}
        ]

    def replica_range(self, workload: Workload) -> tuple[int, int]:
        """The fewest and the most pods the workload runs: its autoscaler's minReplicas (default 1) and
        maxReplicas where one scales it, else its spec.replicas (default 1) both."""
        autoscalers = self.autoscalers_of(workload)
        if autoscalers:
            spec = autoscalers[0]["spec"]
            return spec.get("minReplicas", 1), spec["maxReplicas"]
        replicas = workload.document["spec"].get("replicas", 1)
        return replicas, replicas

    def budgets_of(self, workload: Workload) -> list[dict]:
        """The PodDisruptionBudgets that select the workload's pods."""
        return [
            budget
            for budget in self.of_kind("PodDisruptionBudget")
            if namespace(budget) == workload.namespace
            and label_selector_matches(budget["spec"].get("selector", {}), workload.pod_labels)
        ]

    def pods_selected(self, selector: Mapping[str, str], namespace_: str) -> list[Workload]:
        return [
            workload
            for workload in self.workloads()
            if workload.namespace == namespace_ and labels_match(selector, workload.pod_labels)
        ]

    def service_for_host(self, host: str, namespace_: str) -> dict | None:
        """The Service an Istio host names: `name`, `name.namespace` or `name.namespace.svc.cluster.local`."""
        parts = host.split(".")
        if len(parts) == 1:
            return self.get("Service", host, namespace_)
        if len(parts) == 2 or host.endswith(".svc.cluster.local"):
            return self.get("Service", parts[0], parts[1])
        return None

    def split(self, virtual_service: str, namespace_: str = "") -> dict[str, int]:
        """{subset: weight} of the VirtualService's route to several destinations: the frontend's is the share of
        new visitors each arm gets, declared there and nowhere else."""
        document = next(d for d in self.of_kind("VirtualService") if d["metadata"]["name"] == virtual_service)
        if namespace_ and namespace(document) != namespace_:
            raise LookupError(f"VirtualService/{virtual_service} is not in namespace {namespace_}")
        splits = [route["route"] for route in document["spec"].get("http", []) if len(route.get("route", [])) > 1]
        if len(splits) != 1:
            raise LookupError(f"VirtualService/{virtual_service} has {len(splits)} weighted routes, not one")
        return {destination["destination"]["subset"]: destination.get("weight", 0) for destination in splits[0]}

    def services_monitored_by(self, monitor: Mapping) -> list[dict]:
        """The Services a ServiceMonitor selects: by label, in its namespaceSelector's namespaces (default: its own)."""
        namespaces = monitor["spec"].get("namespaceSelector", {})
        return [
            service
            for service in self.of_kind("Service")
            if (namespaces.get("any") or namespace(service) in namespaces.get("matchNames", [namespace(monitor)]))
            and label_selector_matches(monitor["spec"]["selector"], service["metadata"].get("labels", {}))
        ]

    def pods_monitored_by(self, monitor: Mapping) -> list[Workload]:
        """The workloads whose pods a PodMonitor selects: by label, in its namespaceSelector's (default: its own)."""
        namespaces = monitor["spec"].get("namespaceSelector", {})
        return [
            workload
            for workload in self.workloads()
            if (namespaces.get("any") or workload.namespace in namespaces.get("matchNames", [namespace(monitor)]))
            and label_selector_matches(monitor["spec"]["selector"], workload.pod_labels)
        ]

    def secret_data(self, name: str, namespace_: str) -> dict[str, str] | None:
        secret = self.get("Secret", name, namespace_)
        if secret is None:
            return None
        decoded = {key: base64.b64decode(value).decode() for key, value in secret.get("data", {}).items()}
        return decoded | secret.get("stringData", {})

    def config_map_data(self, name: str, namespace_: str) -> dict[str, str] | None:
        config_map = self.get("ConfigMap", name, namespace_)
        return None if config_map is None else dict(config_map.get("data", {}))

    def environment(self, workload: Workload, container: Mapping) -> dict[str, str]:
        """The container's environment as the pod would see it (what can be resolved)."""
        env: dict[str, str] = {}
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                env |= self.config_map_data(source["configMapRef"]["name"], workload.namespace) or {}
            if "secretRef" in source:
                env |= self.secret_data(source["secretRef"]["name"], workload.namespace) or {}
        for variable in container.get("env", []):
            value = self._env_value(workload, variable)
            if value is not None:
                # $(NAME) is the value of a variable defined before it, as the kubelet expands it.
                env[variable["name"]] = _DEPENDENT.sub(lambda name: env.get(name[1], name[0]), value)
        return env

    def _env_value(self, workload: Workload, variable: Mapping) -> str | None:
        if "value" in variable:
            return variable["value"]
        value_from = variable.get("valueFrom", {})
        if "fieldRef" in value_from:
            return _pod_field(workload, value_from["fieldRef"]["fieldPath"])
        if "configMapKeyRef" in value_from:
            selector = value_from["configMapKeyRef"]
            data = self.config_map_data(selector["name"], workload.namespace) or {}
        elif "secretKeyRef" in value_from:
            selector = value_from["secretKeyRef"]
            data = self.secret_data(selector["name"], workload.namespace) or {}
        else:
            return None
        return data.get(selector["key"])


_DEPENDENT = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
# metadata.labels['version'] and the like: the downward API's selection of one label or annotation.
_POD_FIELD_ITEM = re.compile(r"metadata\.(labels|annotations)\['([^']+)'\]")


def _pod_field(workload: Workload, path: str) -> str | None:
    """A field of the pod a container's environment may read (fieldRef), as the pod's template has it."""
    item = _POD_FIELD_ITEM.fullmatch(path)
    if item:
        return workload.pod["metadata"].get(item[1], {}).get(item[2])
    if path == "metadata.namespace":
        return workload.namespace
    return None  # known only once the pod runs: its name, node, IP


def env_references(container: Mapping) -> Iterator[tuple[str, str, str, bool]]:
    """(ConfigMap|Secret, name, key or "", optional) for everything a container's environment reads."""
    for variable in container.get("env", []):
        value_from = variable.get("valueFrom", {})
        for field, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
            if field in value_from:
                selector = value_from[field]
                yield kind, selector["name"], selector["key"], selector.get("optional", False)
    for source in container.get("envFrom", []):
        for field, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if field in source:
                yield kind, source[field]["name"], "", source[field].get("optional", False)
