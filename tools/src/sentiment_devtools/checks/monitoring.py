"""What Prometheus and Grafana are given holds together: ServiceMonitors select the Services, PodMonitors their
pods and the gateway is among them, rules select scraped targets, every scraped job is watched by an alert, every
alert is actionable and named for this system, and dashboards are valid."""

import json
import re

from sentiment_devtools.manifests.model import Manifests, namespace, ref


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


def pod_monitors_select_pods(m: Manifests) -> list[str]:
    """Each PodMonitor selects pods and a port they declare, and every gateway's pods are scraped by one: what the
    gateway answers itself (its 503s, 429s and 413s) is in no app's metrics."""
    problems = []
    for monitor in m.of_kind("PodMonitor"):
        selected = m.pods_monitored_by(monitor)
        if not selected:
            problems.append(f"{ref(monitor)}: selects no pods (selector {monitor['spec']['selector']})")
        for workload in selected:
            ports = {port.get("name") for container in workload.containers for port in container.get("ports", [])}
            problems += [
                f"{ref(monitor)}: scrapes port {endpoint.get('port')}, which {workload.ref}'s containers do not "
                f"declare (they have {sorted(ports)})"
                for endpoint in monitor["spec"].get("podMetricsEndpoints", [])
                if endpoint.get("port") not in ports
            ]
    scraped = {w.ref for monitor in m.of_kind("PodMonitor") for w in m.pods_monitored_by(monitor)}
    for gateway in m.of_kind("Gateway"):
        for workload in m.pods_selected(gateway["spec"].get("selector") or {}, namespace(gateway)):
            if workload.ref not in scraped:
                problems.append(
                    f"{ref(gateway)}: its pods ({workload.ref}) answer every user's request, and no PodMonitor scrapes "
                    "them: the 503s, 429s and 413s the gateway answers itself reach no app's metrics, nor the SLO"
                )
    return problems


def scraped_jobs(m: Manifests) -> set[str]:
    """The `job` of every target the monitors scrape: a ServiceMonitor's Service's name; a PodMonitor's pods' value
    of its jobLabel, or <namespace>/<name> without one (the prometheus-operator's naming)."""
    jobs = {
        service["metadata"]["name"]
        for monitor in m.of_kind("ServiceMonitor")
        for service in m.services_monitored_by(monitor)
    }
    for monitor in m.of_kind("PodMonitor"):
        label = monitor["spec"].get("jobLabel")
        for workload in m.pods_monitored_by(monitor):
            jobs.add(workload.pod_labels.get(label) if label else f"{namespace(monitor)}/{monitor['metadata']['name']}")
    return jobs


JOB_MATCHER = re.compile(r'\b(job|service|namespace)\s*(=~|=)\s*"([^"]*)"')


def rules_select_scraped_targets(m: Manifests) -> list[str]:
    """A rule's job, service and namespace matchers name what the monitors scrape (job = Service name, or the
    PodMonitor's job)."""
    targets = {"job": scraped_jobs(m), "service": set(), "namespace": set()}
    for monitor in m.of_kind("ServiceMonitor"):
        for service in m.services_monitored_by(monitor):
            targets["service"].add(service["metadata"]["name"])
            targets["namespace"].add(namespace(service))
    targets["namespace"] |= {w.namespace for monitor in m.of_kind("PodMonitor") for w in m.pods_monitored_by(monitor)}
    problems = []
    for rule_set in m.of_kind("PrometheusRule"):
        for group in rule_set["spec"]["groups"]:
            for rule in group["rules"]:
                name = rule.get("alert") or rule.get("record")
                for label, operator, value in JOB_MATCHER.findall(rule["expr"]):
                    known = targets[label]
                    matches = value in known if operator == "=" else any(re.fullmatch(value, k) for k in known)
                    if not matches:
                        problems.append(
                            f'{ref(rule_set)}: rule {name} selects {label}{operator}"{value}", and no '
                            f"scraped target has it (scraped: {sorted(known)})"
                        )
    return problems


def every_scraped_job_is_alerted_on(m: Manifests) -> list[str]:
    """Every scraped job is read by some alert, directly or through the recording rules it reads: a job that is
    scraped and watched by none (the gateway left out of the SLO, say) pages nobody when it fails."""
    rules = [
        rule
        for rule_set in m.of_kind("PrometheusRule")
        for group in rule_set["spec"]["groups"]
        for rule in group["rules"]
    ]
    records = {rule["record"]: rule["expr"] for rule in rules if "record" in rule}

    def jobs_read(expr: str, seen: frozenset = frozenset()) -> set[str]:
        jobs = {value for label, _, value in JOB_MATCHER.findall(expr) if label == "job"}
        for record, record_expr in records.items():
            if record not in seen and re.search(rf"(?<![\w:]){re.escape(record)}(?![\w:])", expr):
                jobs |= jobs_read(record_expr, seen | {record})
        return jobs

    watched = [value for rule in rules if "alert" in rule for value in jobs_read(rule["expr"])]
    return [
        f"job {job} is scraped, and no alert reads its metrics (nor a recording rule an alert reads): "
        "its failures page nobody"
        for job in sorted(scraped_jobs(m))
        if not any(re.fullmatch(value, job) for value in watched)
    ]


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


# The alerts kube-prometheus-stack ships by default (its rule groups come from kube-prometheus and the
# kubernetes-mixin: general.rules, kubernetes-apps, kubernetes-storage, kubernetes-system, prometheus,
# alertmanager, node-exporter...), which our Prometheus evaluates beside ours. An alert of ours with one of their
# names would be grouped, inhibited, silenced and routed with theirs, and its runbook_url would compete with
# theirs: so our names are our own. Not the whole list: the names a service team is likely to reach for.
KUBE_PROMETHEUS_STACK_ALERTS = frozenset({
    "TargetDown", "Watchdog", "InfoInhibitor",
    "KubePodCrashLooping", "KubePodNotReady", "KubeDeploymentGenerationMismatch", "KubeDeploymentReplicasMismatch",
    "KubeDeploymentRolloutStuck", "KubeStatefulSetReplicasMismatch", "KubeContainerWaiting", "KubeJobFailed",
    "KubeHpaMaxedOut", "KubePersistentVolumeFillingUp", "KubePersistentVolumeErrors", "KubeCPUOvercommit",
    "KubeMemoryOvercommit", "KubeQuotaExceeded", "CPUThrottlingHigh", "PrometheusRuleFailures",
    "PrometheusTargetSyncFailure", "PrometheusNotConnectedToAlertmanagers", "AlertmanagerFailedToSendAlerts",
    "NodeFilesystemSpaceFillingUp", "NodeHighNumberConntrackEntriesUsed",
})  # fmt: skip


def alert_names_are_our_own(m: Manifests) -> list[str]:
    """No alert of ours has the name of one kube-prometheus-stack ships (KUBE_PROMETHEUS_STACK_ALERTS)."""
    return [
        f"{ref(rule_set)}: alert {rule['alert']} has the name of a kube-prometheus-stack default alert: the two "
        "would be grouped, silenced and inhibited as one, under two runbooks; name it for this system"
        for rule_set in m.of_kind("PrometheusRule")
        for group in rule_set["spec"]["groups"]
        for rule in group["rules"]
        if rule.get("alert") in KUBE_PROMETHEUS_STACK_ALERTS
    ]


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
