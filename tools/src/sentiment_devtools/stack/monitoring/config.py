"""prometheus.yml, the rules file and alertmanager.yml for a local run, derived from the rendered manifests."""

from collections.abc import Mapping
from dataclasses import dataclass

from sentiment_devtools.manifests.alertmanager import alertmanager_config
from sentiment_devtools.manifests.model import Manifests, namespace

# Where the apps serve their metrics; in the cluster the Istio agent serves them on /stats/prometheus.
METRICS_PATH = "/metrics"


@dataclass(frozen=True)
class RouteTiming:
    """How long Alertmanager waits before it sends a group's first notification, and between updates."""

    group_wait: str
    group_interval: str


def rule_groups(documents: list[dict]) -> dict:
    """Every PrometheusRule's groups as one plain rules file, as the prometheus-operator loads them."""
    rules = Manifests(documents).of_kind("PrometheusRule")
    return {"groups": [group for rule in rules for group in rule["spec"]["groups"]]}


def scrape_jobs(
    documents: list[dict], targets: Mapping[str, Mapping[str, str | list[str]]], gateway: str | None = None
) -> list[dict]:
    """One job per Service a ServiceMonitor selects, scraping the local targets of that service; and with a
    gateway, one per PodMonitor of the gateway's pods, scraping the local Envoy's admin port.

    targets: service name -> version -> "127.0.0.1:port", or a list of them (the replicas). Each target is
    labelled like the ServiceMonitor's: job and service (the Service's name),
    namespace, and pod (<service>-<version>, then -2, -3 for more replicas, here; the pod's name there).
    gateway: "127.0.0.1:port" of the Envoy whose /stats/prometheus stands in for
    the gateway's (the same Envoy statistics, under the names the rules read).
    """
    m = Manifests(documents)
    jobs = _gateway_jobs(m, gateway) if gateway else []
    services = [service for monitor in m.of_kind("ServiceMonitor") for service in m.services_monitored_by(monitor)]
    for service in services:
        name = service["metadata"]["name"]
        if name not in targets:
            continue
        jobs.append({
            "job_name": name,
            "metrics_path": METRICS_PATH,
            "static_configs": [
                {
                    "targets": [address],
                    "labels": {"namespace": namespace(service), "service": name,
                               "pod": f"{name}-{version}" + (f"-{index + 1}" if index else "")},
                }
                for version, addresses in targets[name].items()
                for index, address in enumerate([addresses] if isinstance(addresses, str) else addresses)
            ],
        })  # fmt: skip
    return jobs


def _gateway_jobs(m: Manifests, gateway: str) -> list[dict]:
    """The PodMonitors of the Gateways' pods, as jobs scraping `gateway`, named and labelled as the operator does."""
    gateway_pods = {
        workload.ref: workload
        for document in m.of_kind("Gateway")
        for workload in m.pods_selected(document["spec"].get("selector") or {}, namespace(document))
    }
    jobs = []
    for monitor in m.of_kind("PodMonitor"):
        pods = [w for w in m.pods_monitored_by(monitor) if w.ref in gateway_pods]
        label = monitor["spec"].get("jobLabel")
        for workload in pods:
            name = workload.pod_labels[label] if label else f"{namespace(monitor)}/{monitor['metadata']['name']}"
            for endpoint in monitor["spec"].get("podMetricsEndpoints", []):
                jobs.append({
                    "job_name": name,
                    "metrics_path": endpoint.get("path", "/metrics"),
                    "static_configs": [
                        {"targets": [gateway], "labels": {"namespace": workload.namespace, "pod": f"{name}-local"}}
                    ],
                })  # fmt: skip
    return jobs


def prometheus_config(
    documents: list[dict],
    targets: Mapping[str, Mapping[str, str | list[str]]],
    rules_file: str,
    alertmanager: str,
    interval: str,
    gateway: str | None = None,
) -> dict:
    """A prometheus.yml scraping the local targets (and the gateway, given) and evaluating the rules every
    `interval`."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [rules_file],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": scrape_jobs(documents, targets, gateway),
    }


def local_alertmanager_config(documents: list[dict], smarthost: str, timing: RouteTiming | None = None) -> dict:
    """The alertmanager.yml the operator would generate, sending e-mail to a local sink instead.

    Only the SMTP server and its account differ (a sink on 127.0.0.1 with no
    TLS and no login); timing, when given, shortens the routes' group_wait and
    group_interval, which tests do to see an e-mail within seconds.
    """
    config = alertmanager_config(Manifests(documents))
    for receiver in config["receivers"]:
        for email in receiver.get("email_configs", []):
            for field in ("auth_username", "auth_password", "auth_identity", "auth_secret"):
                email.pop(field, None)
            email["smarthost"] = smarthost
            email["require_tls"] = False
    if timing is not None:
        for route in config["route"]["routes"]:
            route["group_wait"] = timing.group_wait
            route["group_interval"] = timing.group_interval
    return config
