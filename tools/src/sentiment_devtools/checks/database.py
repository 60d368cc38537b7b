"""The app-service's database, tied together: what the CloudNativePG operator makes, what each arm reads, and how
the arm's replicas roll out without a moment down.

The operator creates, for a `Cluster`, Secrets the manifests never hold: `<cluster>-app` with the credentials of
the role its bootstrap makes (CloudNativePG's pkg/specs/secrets.go names the keys), `<cluster>-ca` with the CA of
the server's certificate, and the Service `<cluster>-rw` in front of the primary. So a pod may read those, and
the checks hold the rest to them: each arm's DATABASE_URL names the primary's Service of a Cluster here and a
database that Cluster has (its bootstrap's, or a `Database` of it), owned by the role whose credentials the pod
reads; and a TLS root certificate it names is mounted from the operator's CA. An arm on PostgreSQL runs two
replicas or more (its autoscaler's minReplicas, where one owns the count), rolled with none unavailable, under a
disruption budget that lets one go, spread over nodes, and drained on termination: a preStop sleep, longer than
the mesh takes to drop the pod from its endpoints, that with the server's own graceful shutdown fits in the grace
period. An arm on SQLite runs one replica, replaced, never rolled, and no autoscaler may raise it: a SQLite file
has one writer.
"""

import re
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

from sentiment_devtools.manifests.model import Manifests, Workload, disruptions_allowed, namespace

APP_SECRET_KEYS = frozenset({
    "username", "user", "password", "dbname", "host", "port", "pgpass", "uri", "jdbc-uri", "fqdn-uri", "fqdn-jdbc-uri",
})  # fmt: skip
CA_SECRET_KEYS = frozenset({"ca.crt", "ca.key"})
POSTGRES_PORT = 5432
# The mesh takes a few seconds to drop a terminating pod from every Envoy's endpoints (istiod's push); the
# preStop sleep must outlast that, and leave the app's graceful shutdown (service_kit.serve) its time too.
MIN_DRAIN_SECONDS = 5
APP_SHUTDOWN_SECONDS = 5
DEFAULT_GRACE_SECONDS = 30


def generated_secrets(m: Manifests, namespace_: str) -> dict[str, frozenset[str]]:
    """The Secrets the operator makes for the Clusters of a namespace, and their keys."""
    secrets: dict[str, frozenset[str]] = {}
    for cluster in m.of_kind("Cluster"):
        if namespace(cluster) != namespace_:
            continue
        name, spec = cluster["metadata"]["name"], cluster["spec"]
        initdb = spec.get("bootstrap", {}).get("initdb")
        if initdb is not None and "secret" not in initdb:
            secrets[f"{name}-app"] = APP_SECRET_KEYS
        if "serverCASecret" not in spec.get("certificates", {}):
            secrets[f"{name}-ca"] = CA_SECRET_KEYS
    return secrets


def _databases(m: Manifests, cluster: Mapping) -> dict[str, str]:
    """The databases a Cluster has: name -> owner."""
    databases = {}
    initdb = cluster["spec"].get("bootstrap", {}).get("initdb")
    if initdb is not None:
        databases[initdb.get("database", "app")] = initdb.get("owner", initdb.get("database", "app"))
    for database in m.of_kind("Database"):
        spec = database["spec"]
        if spec["cluster"].get("name") == cluster["metadata"]["name"] and spec.get("ensure", "present") == "present":
            databases[spec["name"]] = spec["owner"]
    return databases


def _database_url(m: Manifests, workload: Workload) -> tuple[Mapping, str] | None:
    container = next((c for c in workload.containers if c["name"] == "app-service"), None)
    if container is None:
        return None
    return container, m.environment(workload, container).get("DATABASE_URL", "")


def each_arm_reaches_its_database(m: Manifests) -> list[str]:
    """Each arm's DATABASE_URL names a Cluster's primary and one of its databases, with its owner's credentials."""
    clusters = {(namespace(c), c["metadata"]["name"]) for c in m.of_kind("Cluster")}
    problems = [
        f"Database/{database['metadata']['name']}: its cluster {database['spec']['cluster'].get('name')} "
        "is no Cluster here"
        for database in m.of_kind("Database")
        if (namespace(database), database["spec"]["cluster"].get("name")) not in clusters
    ]
    for workload in m.app_workloads(("app-service",)):
        found = _database_url(m, workload)
        if found is None or not found[1].startswith(("postgresql://", "postgres://")):
            continue
        container, url = found
        problems += [f"{workload.ref}: {problem}" for problem in _url_problems(m, workload, container, url)]
    return problems


def _url_problems(m: Manifests, workload: Workload, container: Mapping, url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    clusters = {c["metadata"]["name"]: c for c in m.of_kind("Cluster") if namespace(c) == workload.namespace}
    name = re.sub(r"-rw(\.[a-z0-9-]+)*$", "", host) if host.split(".")[0].endswith("-rw") else None
    cluster = clusters.get(name or "")
    if cluster is None:
        return [f"DATABASE_URL names host {host!r}, which is the primary (<cluster>-rw) of no Cluster here"]
    problems = []
    if parts.port not in (None, POSTGRES_PORT):
        problems.append(f"DATABASE_URL names port {parts.port}; the Cluster's primary listens on {POSTGRES_PORT}")
    database = parts.path.lstrip("/")
    databases = _databases(m, cluster)
    if database not in databases:
        return [*problems, f"DATABASE_URL names database {database!r}, which Cluster/{name} does not have "
                           f"(it has {sorted(databases)}): add a Database"]  # fmt: skip
    credentials = {}
    for variable in container.get("env", []):
        secret = variable.get("valueFrom", {}).get("secretKeyRef")
        if variable["name"] in ("PGUSER", "PGPASSWORD") and secret is not None:
            credentials[variable["name"]] = secret["name"]
    app_secret = f"{name}-app"
    if parts.password is None and credentials.get("PGPASSWORD") != app_secret:
        problems.append(f"the database's password comes from no Secret/{app_secret} (PGPASSWORD)")
    owner = cluster["spec"].get("bootstrap", {}).get("initdb", {}).get("owner")
    if databases[database] != owner:
        problems.append(
            f"database {database} is owned by {databases[database]}, not by {owner}, whose credentials "
            f"Secret/{app_secret} holds"
        )
    root_certificate = parse_qs(parts.query).get("sslrootcert", [None])[0]
    if root_certificate is not None and not _mounted_from(workload, container, root_certificate, f"{name}-ca"):
        problems.append(f"sslrootcert {root_certificate} is not mounted from Secret/{name}-ca's ca.crt")
    return problems


def _mounted_from(workload: Workload, container: Mapping, path: str, secret: str) -> bool:
    for mount in container.get("volumeMounts", []):
        folder = mount["mountPath"].rstrip("/")
        if not path.startswith(f"{folder}/"):
            continue
        volume = workload.volumes.get(mount["name"], {}).get("secret", {})
        if volume.get("secretName") != secret:
            return False
        items = {item["path"]: item["key"] for item in volume.get("items", [])}
        file = path.removeprefix(f"{folder}/")
        return items.get(file, file if not items else None) == "ca.crt"
    return False


def single_writer(m: Manifests, workload: Workload) -> bool:
    """Whether the workload is an app-service on SQLite: one writer per database file."""
    found = _database_url(m, workload)
    return found is not None and found[1].startswith("sqlite:///")


def replicas_roll_without_downtime(m: Manifests) -> list[str]:
    """PostgreSQL: 2+ replicas, rolled with none unavailable, a budget that lets one go, spread, drained in time.
    SQLite: one replica, replaced (Recreate)."""
    problems = []
    for workload in m.app_workloads(("app-service",)):
        found = _database_url(m, workload)
        if found is None:
            continue
        fewest, most = m.replica_range(workload)
        replicas = str(fewest) if fewest == most else f"{fewest} to {most} (its HorizontalPodAutoscaler)"
        strategy = workload.document["spec"].get("strategy", {})
        if single_writer(m, workload):
            if most != 1 or strategy.get("type") != "Recreate":
                problems.append(
                    f"{workload.ref}: a SQLite database has one writer: 1 replica and the Recreate strategy, "
                    f"not {replicas} and {strategy.get('type', 'RollingUpdate')}"
                )
            continue
        problems += [f"{workload.ref}: {problem}" for problem in _rollout_problems(m, workload, fewest, strategy)]
        problems += [f"{workload.ref}: {problem}" for problem in _drain_problems(workload, found[0])]
    return problems


def _rollout_problems(m: Manifests, workload: Workload, replicas: int, strategy: Mapping) -> list[str]:
    """replicas: the fewest the workload runs."""
    problems = []
    if replicas < 2:
        problems.append(f"{replicas} replica: one pod's restart would stop the arm (2 or more)")
    rolling = strategy.get("rollingUpdate", {})
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or str(rolling.get("maxUnavailable", "25%")) not in (
        "0",
        "0%",
    ):
        problems.append("rolls out with pods unavailable: RollingUpdate with maxUnavailable 0")
    budgets = m.budgets_of(workload)
    if not budgets:
        problems.append("no PodDisruptionBudget selects its pods")
    for budget in budgets:
        allowed = disruptions_allowed(budget["spec"], replicas)
        if allowed < 1:
            problems.append(
                f"PodDisruptionBudget/{budget['metadata']['name']} lets none of its {replicas} pods go: "
                "a node drain would never end (minAvailable below the replicas)"
            )
    spreads = workload.pod["spec"].get("topologySpreadConstraints", [])
    if not any(spread.get("topologyKey") == "kubernetes.io/hostname" for spread in spreads):
        problems.append(
            "its replicas are not spread across nodes (topologySpreadConstraints on kubernetes.io/hostname)"
        )
    return problems


def _drain_problems(workload: Workload, container: Mapping) -> list[str]:
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    seconds = pre_stop.get("sleep", {}).get("seconds")
    if seconds is None:
        command = pre_stop.get("exec", {}).get("command", [])
        seconds = int(command[1]) if len(command) == 2 and command[0] in ("sleep", "/bin/sleep") else None
    if seconds is None:
        return [f"no preStop sleep: the pod would stop before the mesh drops it from its endpoints "
                f"(at least {MIN_DRAIN_SECONDS} s)"]  # fmt: skip
    grace = workload.pod["spec"].get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS)
    problems = []
    if seconds < MIN_DRAIN_SECONDS:
        problems.append(f"its preStop sleep ({seconds} s) is shorter than the mesh's endpoint propagation "
                        f"({MIN_DRAIN_SECONDS} s)")  # fmt: skip
    if seconds + APP_SHUTDOWN_SECONDS >= grace:
        problems.append(
            f"its preStop sleep ({seconds} s) and the app's graceful shutdown ({APP_SHUTDOWN_SECONDS} s) do not fit "
            f"in terminationGracePeriodSeconds ({grace} s): the kubelet would kill requests in flight"
        )
    return problems
