"""The HorizontalPodAutoscalers, held to what they scale (docs/deployment.md, "Sizing and autoscaling").

- Each one scales a workload that exists here: its scaleTargetRef's kind, name and apiVersion name a Deployment
  (or another pod controller) of its namespace; one autoscaler per workload, since two would fight over the count;
  maxReplicas ≥ minReplicas (default 1); and the workload sets no `replicas:`, which every `kubectl apply` would
  reset the autoscaler's count to.
- Its minReplicas lets a disruption budget of the pods evict one and keep one serving. At n = minReplicas, the
  fewest pods it runs: a budget of minAvailable m needs n ≥ m + 1 (one eviction allowed); of maxUnavailable u,
  u ≥ 1 (one eviction allowed) and n ≥ u + 1 (one pod left while u are evicted). A percentage counts of n, rounded
  up, as the disruption controller counts it. At more replicas a budget only lets more go.
- Every container it scales asks for CPU and memory: a utilisation is usage over the request, so an autoscaler on
  CPU utilisation is blind to a container without a CPU request, and the scheduler places its new pods by their
  requests. The injected Istio proxy is one of those containers: its requests are the pod's
  sidecar.istio.io/proxyCPU and proxyMemory annotations, Istio's install default otherwise. A ContainerResource
  metric names a container the pod has.
- Every arm of each service has one (none forgotten), on CPU; an app-service on SQLite none, or one of
  maxReplicas 1: a SQLite file has one writer.
"""

from collections.abc import Mapping

from sentiment_devtools.checks.database import single_writer
from sentiment_devtools.manifests.model import WORKLOAD_KINDS, Manifests, Workload, disruptions_allowed, namespace, ref
from sentiment_devtools.system import SERVICES

# The injected proxy's CPU and memory requests, which the pod template sets for Istio's injector.
PROXY_REQUESTS = ("sidecar.istio.io/proxyCPU", "sidecar.istio.io/proxyMemory")


def _target(m: Manifests, autoscaler: Mapping) -> Workload | None:
    return next((w for w in m.workloads() if autoscaler in m.autoscalers_of(w)), None)


def autoscalers_scale_workloads(m: Manifests) -> list[str]:
    """Each autoscaler scales a workload here, alone, within a range, and owns its count."""
    problems = []
    for autoscaler in m.of_kind("HorizontalPodAutoscaler"):
        spec, where = autoscaler["spec"], ref(autoscaler)
        target = spec["scaleTargetRef"]
        fewest, most = spec.get("minReplicas", 1), spec["maxReplicas"]
        if most < fewest:
            problems.append(f"{where}: maxReplicas {most} is below minReplicas {fewest}")
        workload = _target(m, autoscaler)
        if workload is None:
            named = f"{target['kind']}/{target['name']} ({target.get('apiVersion', 'no apiVersion')})"
            versions = {(w.document["kind"], w.document["metadata"]["name"]): w.document["apiVersion"]
                        for w in m.workloads() if w.namespace == namespace(autoscaler)}  # fmt: skip
            found = versions.get((target["kind"], target["name"]))
            hint = f" (there is one of {found})" if found else ""
            problems.append(f"{where}: scales {named}, which is no {'/'.join(WORKLOAD_KINDS)} of namespace "
                            f"{namespace(autoscaler)}{hint}")  # fmt: skip
            continue
        if "replicas" in workload.document["spec"]:
            problems.append(
                f"{workload.ref}: sets replicas: {workload.document['spec']['replicas']}, and {where} owns its count: "
                "every `kubectl apply` would reset it"
            )
    for workload in m.workloads():
        autoscalers = m.autoscalers_of(workload)
        if len(autoscalers) > 1:
            names = ", ".join(sorted(ref(a) for a in autoscalers))
            problems.append(f"{workload.ref}: scaled by {names}: autoscalers of one workload fight over its count")
    return problems


def min_replicas_within_budgets(m: Manifests) -> list[str]:
    """At minReplicas, every disruption budget of the pods lets one go and keeps one serving."""
    problems = []
    for workload in m.workloads():
        for autoscaler in m.autoscalers_of(workload):
            fewest = autoscaler["spec"].get("minReplicas", 1)
            for budget in m.budgets_of(workload):
                allowed = disruptions_allowed(budget["spec"], fewest)
                where = f"{ref(autoscaler)}: minReplicas {fewest}"
                if allowed < 1:
                    problems.append(
                        f"{where}, and {ref(budget)} lets none of {fewest} pods go: a node drain would never end "
                        "(minReplicas must exceed minAvailable)"
                    )
                elif allowed >= fewest:
                    problems.append(
                        f"{where}, and {ref(budget)} lets all {fewest} pods go at once: a drain may stop "
                        "every one of them (minReplicas must exceed maxUnavailable)"
                    )
    return problems


def scaled_containers_ask_for_resources(m: Manifests) -> list[str]:
    """Every container an autoscaler scales, the injected proxy included, requests CPU and memory."""
    problems = []
    for workload in m.workloads():
        for autoscaler in m.autoscalers_of(workload):
            problems += [f"{ref(autoscaler)}: {problem}" for problem in _request_problems(m, workload, autoscaler)]
    return problems


def _request_problems(m: Manifests, workload: Workload, autoscaler: Mapping) -> list[str]:
    problems = []
    for container in workload.all_containers:
        requests = container.get("resources", {}).get("requests", {})
        missing = [resource for resource in ("cpu", "memory") if resource not in requests]
        if missing:
            problems.append(
                f"{workload.ref}'s container {container['name']} requests no {' and no '.join(missing)}: its "
                "utilisation is unknown to the autoscaler and its new pods are placed blind"
            )
    if _injected(m, workload):
        missing = [name for name in PROXY_REQUESTS if name not in workload.pod_annotations]
        if missing:
            problems.append(
                f"{workload.ref}'s injected Istio proxy has no {', '.join(missing)}: its requests would be Istio's "
                "install default, not sized here"
            )
    names = {container["name"] for container in workload.all_containers}
    for metric in autoscaler["spec"].get("metrics", []):
        if metric["type"] == "ContainerResource" and metric["containerResource"]["container"] not in names:
            problems.append(
                f"its ContainerResource metric reads container {metric['containerResource']['container']}, "
                f"which {workload.ref}'s pods do not have (they have {sorted(names)})"
            )
    return problems


def _injected(m: Manifests, workload: Workload) -> bool:
    """Whether Istio injects its proxy into the pods: the namespace's istio-injection label, unless the pod says no."""
    ns = m.get("Namespace", workload.namespace)
    enabled = ns is not None and ns["metadata"].get("labels", {}).get("istio-injection") == "enabled"
    refused = "false" in (
        workload.pod_annotations.get("sidecar.istio.io/inject"),
        workload.pod_labels.get("sidecar.istio.io/inject"),
    )
    return enabled and not refused


def every_arm_autoscales(m: Manifests) -> list[str]:
    """Each service's every arm has an autoscaler on CPU; an app-service on SQLite none beyond one replica."""
    problems = []
    for workload in m.app_workloads(SERVICES):
        autoscalers = m.autoscalers_of(workload)
        if single_writer(m, workload):
            problems += [
                f"{ref(autoscaler)}: scales {workload.ref}, an app-service on SQLite, to "
                f"{autoscaler['spec']['maxReplicas']} replicas: a SQLite file has one writer (no autoscaler, or "
                "maxReplicas 1)"
                for autoscaler in autoscalers
                if autoscaler["spec"]["maxReplicas"] > 1
            ]
            continue
        if not autoscalers:
            problems.append(f"{workload.ref}: no HorizontalPodAutoscaler scales it, so its arm cannot follow its load")
        for autoscaler in autoscalers:
            # No metrics: the autoscaler's default, CPU at 80%.
            metrics = autoscaler["spec"].get("metrics") or [{"type": "Resource", "resource": {"name": "cpu"}}]
            resources = {_metric_resource(metric) for metric in metrics}
            if "cpu" not in resources:
                problems.append(f"{ref(autoscaler)}: scales {workload.ref} on no CPU metric, which its sizing assumes")
    return problems


def _metric_resource(metric: Mapping) -> str | None:
    source = metric.get({"Resource": "resource", "ContainerResource": "containerResource"}.get(metric["type"], ""), {})
    return source.get("name")
