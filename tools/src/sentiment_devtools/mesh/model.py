"""The Istio resources the compiler understands, as plain data."""

from dataclasses import dataclass, field
from typing import Literal

from sentiment_devtools.mesh.errors import CompileError

MatchKind = Literal["exact", "prefix", "regex"]


@dataclass(frozen=True)
class StringMatch:
    kind: MatchKind
    value: str


@dataclass(frozen=True)
class RequestMatch:
    """One entry of `match:`; its conditions all have to hold."""

    uri: StringMatch | None = None
    headers: dict[str, StringMatch] = field(default_factory=dict)
    source_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HeaderOperations:
    set: dict[str, str] = field(default_factory=dict)
    add: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HeaderPolicy:
    request: HeaderOperations = field(default_factory=HeaderOperations)
    response: HeaderOperations = field(default_factory=HeaderOperations)


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str | None
    port: int | None
    weight: int | None
    headers: HeaderPolicy


@dataclass(frozen=True)
class Retries:
    attempts: int
    per_try_timeout_seconds: float | None
    retry_on: str | None


@dataclass(frozen=True)
class CorsPolicy:
    allow_origins: list[StringMatch]
    allow_methods: list[str]
    allow_headers: list[str]
    expose_headers: list[str]
    max_age_seconds: float | None
    allow_credentials: bool


@dataclass(frozen=True)
class HttpRoute:
    name: str | None
    matches: list[RequestMatch]
    destinations: list[Destination]
    headers: HeaderPolicy
    timeout_seconds: float | None
    retries: Retries | None
    cors: CorsPolicy | None = None


@dataclass(frozen=True)
class VirtualService:
    name: str
    hosts: list[str]
    gateways: list[str]
    routes: list[HttpRoute]


@dataclass(frozen=True)
class Server:
    port: int
    protocol: Literal["HTTP", "HTTPS"]
    hosts: list[str]
    https_redirect: bool


@dataclass(frozen=True)
class Gateway:
    name: str
    selector: dict[str, str]
    servers: list[Server]
    # The proxies in front of the gateway that may name the client in X-Forwarded-For (its pods' proxy config).
    num_trusted_proxies: int = 0


@dataclass(frozen=True)
class ConnectionPool:
    max_connections: int | None = None
    connect_timeout_seconds: float | None = None
    tcp_idle_timeout_seconds: float | None = None
    max_pending_requests: int | None = None
    max_requests: int | None = None
    max_requests_per_connection: int | None = None
    max_retries: int | None = None
    http_idle_timeout_seconds: float | None = None


@dataclass(frozen=True)
class OutlierDetection:
    consecutive_5xx: int | None = None
    consecutive_gateway_errors: int | None = None
    interval_seconds: float | None = None
    base_ejection_seconds: float | None = None
    max_ejection_percent: int | None = None
    min_health_percent: int | None = None


@dataclass(frozen=True)
class DestinationRule:
    name: str
    host: str
    connection_pool: ConnectionPool
    outlier_detection: OutlierDetection | None
    subsets: dict[str, dict[str, str]]


@dataclass(frozen=True)
class VirtualHostPatch:
    """Per-filter configuration merged into the gateway's virtual hosts that match."""

    domain: str | None
    name: str | None
    typed_per_filter_config: dict


@dataclass(frozen=True)
class GatewayFilter:
    """An EnvoyFilter on the gateway: HTTP filters inserted before the router, and where they apply."""

    name: str
    workload_labels: dict[str, str]
    http_filters: list[dict]
    virtual_host_patches: list[VirtualHostPatch]
    priority: int = 0
    # Its place in the manifests, which stands for its creation time (`kubectl apply -k` creates them in order).
    position: int = 0


@dataclass(frozen=True)
class Service:
    name: str
    selector: dict[str, str]
    ports: dict[str, int]
    namespace: str = "default"


@dataclass(frozen=True)
class PodIdentity:
    """The pods of one Deployment: their labels and the ServiceAccount whose SPIFFE identity they carry."""

    labels: dict[str, str]
    service_account: str
    namespace: str


@dataclass(frozen=True)
class PeerAuthentication:
    """Which mutual TLS a workload's inbound side requires: STRICT (the only mode compiled)."""

    name: str
    namespace: str
    selector: dict[str, str] | None  # None: every workload of the namespace
    mode: str


@dataclass(frozen=True)
class AuthorizationRule:
    """One `rules[]` entry: the principals one of its `from` sources names (Istio ORs them)."""

    principals: list[str]


@dataclass(frozen=True)
class AuthorizationPolicy:
    """An ALLOW policy: a request to the selected workloads passes if some rule matches its peer's principal."""

    name: str
    namespace: str
    selector: dict[str, str]
    rules: list[AuthorizationRule]


@dataclass(frozen=True)
class Mesh:
    gateways: list[Gateway]
    virtual_services: list[VirtualService]
    destination_rules: dict[str, DestinationRule]
    gateway_filters: list[GatewayFilter]
    services: dict[str, Service]
    pods: list[PodIdentity] = field(default_factory=list)
    peer_authentications: list[PeerAuthentication] = field(default_factory=list)
    authorization_policies: list[AuthorizationPolicy] = field(default_factory=list)

    def identity_of(self, labels: dict[str, str], where: str) -> PodIdentity:
        """The pods a local workload with these labels stands for; their Deployments must agree on the account."""
        found = {(p.service_account, p.namespace) for p in self.pods if labels.items() <= p.labels.items()}
        if len(found) != 1:
            raise CompileError(where, f"the pods labelled {labels} have {len(found)} service accounts: {sorted(found)}")
        ((service_account, namespace),) = found
        return PodIdentity(labels, service_account, namespace)
