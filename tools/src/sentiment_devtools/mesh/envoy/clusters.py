"""One Envoy cluster per destination subset, named as istiod names them (`outbound|<port>|<subset>|<service FQDN>`,
e.g. `outbound|80|stable|app-frontend.sentiment.svc.cluster.local`), with the DestinationRule's connection pool and
outlier detection, and Istio's defaults where the rule is silent."""

import ipaddress
from dataclasses import dataclass

from sentiment_devtools.mesh.envoy.inbound import spiffe, upstream_mtls
from sentiment_devtools.mesh.envoy.listeners import envoy_duration, short_host, socket_address
from sentiment_devtools.mesh.errors import CompileError
from sentiment_devtools.mesh.model import Destination, DestinationRule, Mesh, Service
from sentiment_devtools.mesh.topology import Topology, Workload

_HTTP_PROTOCOL_OPTIONS = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"


# What Istio sets when a DestinationRule is silent.
_ISTIO_UNLIMITED = 4294967295


_ISTIO_CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass
class Clusters:
    mesh: Mesh
    topology: Topology

    def __post_init__(self) -> None:
        self._clusters: dict[str, dict] = {}
        # Who calls through each mTLS cluster: one local Envoy holds every sidecar, so one identity per cluster.
        self._callers: dict[str, str] = {}
        self._inbound = self.topology.inbound if self.topology.mesh_tls else []

    def all(self) -> list[dict]:
        return list(self._clusters.values())

    def name_for(self, destination: Destination, where: str, caller_labels: dict[str, str]) -> str:
        host = short_host(destination.host)
        service = self.mesh.services.get(host)
        if service is None:
            raise CompileError(where, f"destination host {destination.host} is no Service in the manifests")
        port = self._port(service.ports, destination, where)
        rule = self.mesh.destination_rules.get(host)
        labels = dict(service.selector)
        if destination.subset is not None:
            if rule is None or destination.subset not in rule.subsets:
                raise CompileError(where, f"subset {destination.subset} of {host} is defined by no DestinationRule")
            labels |= rule.subsets[destination.subset]
        name = f"outbound|{port}|{destination.subset or ''}|{fqdn(service)}"
        if name not in self._clusters:
            endpoints = [w for w in self.topology.workloads if labels.items() <= w.labels.items()]
            if not endpoints:
                raise CompileError(where, f"no local workload has the labels {labels} (see the topology)")
            self._clusters[name] = _cluster(name, [self._reached_at(e) for e in endpoints], rule)
            secured = [e for e in endpoints if self._inbound_port(e) is not None]
            if secured:
                if len(secured) != len(endpoints):
                    raise CompileError(where, f"{name}: some endpoints have an inbound listener and some not")
                self._secure(name, port, destination, secured, caller_labels, where)
        if name in self._callers:
            caller = self.mesh.identity_of(caller_labels, where).service_account
            if caller != self._callers[name]:
                raise CompileError(
                    where, f"{name} is called as {self._callers[name]} and as {caller}: one local Envoy, one identity"
                )
        return name

    def _inbound_port(self, workload: Workload) -> int | None:
        return next((i.port for i in self._inbound if i.fronts(workload)), None)

    def _reached_at(self, workload: Workload) -> Workload:
        """A secured workload is reached through its inbound listener, as a pod's address reaches its sidecar."""
        port = self._inbound_port(workload)
        if port is None:
            return workload
        return Workload(workload.labels, self.topology.bind_address, port)

    def _secure(
        self, name: str, port: int, destination: Destination, servers: list[Workload], caller: dict, where: str
    ) -> None:
        """Istio's ISTIO_MUTUAL to a workload whose sidecar requires mTLS: the caller's certificate, the SNI
        `outbound_.<port>_.<subset>_.<host>`, and only the servers' own identities accepted."""
        mesh_tls = self.topology.mesh_tls
        account = self.mesh.identity_of(caller, where).service_account
        identities = sorted({spiffe(mesh_tls, self.mesh.identity_of(s.labels, where)) for s in servers})
        sni = f"outbound_.{port}_.{destination.subset or ''}_.{fqdn(self.mesh.services[short_host(destination.host)])}"
        self._clusters[name]["transport_socket"] = upstream_mtls(mesh_tls, account, identities, sni)
        self._callers[name] = account

    @staticmethod
    def _port(ports: dict[str, int], destination: Destination, where: str) -> int:
        if destination.port is not None:
            if destination.port not in ports.values():
                raise CompileError(where, f"{destination.host} has no port {destination.port}")
            return destination.port
        if len(ports) != 1:
            raise CompileError(where, f"{destination.host} has {len(ports)} ports: the destination must name one")
        return next(iter(ports.values()))


def _cluster(name: str, endpoints: list, rule: DestinationRule | None) -> dict:
    pool = rule.connection_pool if rule else None
    cluster = {
        "name": name,
        # Local processes have addresses; containers (docker compose) have names, resolved by DNS.
        "type": "STATIC" if all(_is_ip(e.address) for e in endpoints) else "STRICT_DNS",
        "connect_timeout": envoy_duration(
            pool.connect_timeout_seconds if pool and pool.connect_timeout_seconds else _ISTIO_CONNECT_TIMEOUT_SECONDS
        ),
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": socket_address(e.address, e.port)}} for e in endpoints]}
            ],
        },
        "circuit_breakers": {
            "thresholds": [
                {
                    "max_connections": _or_unlimited(pool and pool.max_connections),
                    "max_pending_requests": _or_unlimited(pool and pool.max_pending_requests),
                    "max_requests": _or_unlimited(pool and pool.max_requests),
                    "max_retries": _or_unlimited(pool and pool.max_retries),
                }
            ]
        },
    }
    protocol_options = {}
    if pool and pool.max_requests_per_connection:
        protocol_options["max_requests_per_connection"] = pool.max_requests_per_connection
    if pool and pool.http_idle_timeout_seconds is not None:
        protocol_options["idle_timeout"] = envoy_duration(pool.http_idle_timeout_seconds)
    if pool and pool.tcp_idle_timeout_seconds is not None:
        raise CompileError(f"DestinationRule/{rule.name}", "connectionPool.tcp.idleTimeout is not supported")
    if protocol_options:
        cluster["typed_extension_protocol_options"] = {
            _HTTP_PROTOCOL_OPTIONS: {
                "@type": f"type.googleapis.com/{_HTTP_PROTOCOL_OPTIONS}",
                "common_http_protocol_options": protocol_options,
                "explicit_http_config": {"http_protocol_options": {}},
            }
        }
    outlier = rule.outlier_detection if rule else None
    if outlier is not None:
        detection = {}
        if outlier.consecutive_5xx is not None:
            detection |= {"consecutive_5xx": outlier.consecutive_5xx, "enforcing_consecutive_5xx": 100}
        if outlier.consecutive_gateway_errors is not None:
            detection |= {
                "consecutive_gateway_failure": outlier.consecutive_gateway_errors,
                "enforcing_consecutive_gateway_failure": 100,
            }
        if outlier.interval_seconds is not None:
            detection["interval"] = envoy_duration(outlier.interval_seconds)
        if outlier.base_ejection_seconds is not None:
            detection["base_ejection_time"] = envoy_duration(outlier.base_ejection_seconds)
        if outlier.max_ejection_percent is not None:
            detection["max_ejection_percent"] = outlier.max_ejection_percent
        # Istio: success-rate ejection off; the panic threshold is minHealthPercent (default 0).
        detection["enforcing_success_rate"] = 0
        cluster["outlier_detection"] = detection
        cluster["common_lb_config"] = {"healthy_panic_threshold": {"value": float(outlier.min_health_percent or 0)}}
    return cluster


def fqdn(service: Service) -> str:
    return f"{service.name}.{service.namespace}.svc.cluster.local"


def _or_unlimited(value: int | None) -> int:
    return _ISTIO_UNLIMITED if value is None else value


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True
