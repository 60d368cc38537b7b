"""The checks of the app-service's database, each broken on purpose: the operator's Secrets and each arm's
database tie together, and the replicas roll out without a moment down (sentiment_devtools.checks.database)."""

import copy

import pytest
from sentiment_devtools.checks import autoscaling, database, wiring
from sentiment_devtools.manifests.model import Manifests
from sentiment_devtools.manifests.render import render
from sentiment_devtools.system import ARMS
from support.mesh import REPO


def find(documents: list[dict], kind: str, name: str) -> dict:
    return next(d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name)


def pod(documents: list[dict], arm: str = "canary") -> dict:
    return find(documents, "Deployment", f"app-service-{arm}")["spec"]["template"]["spec"]


def app_container(documents: list[dict], arm: str = "canary") -> dict:
    return pod(documents, arm)["containers"][0]


def env(documents: list[dict], name: str, arm: str = "canary") -> dict:
    return next(v for v in app_container(documents, arm)["env"] if v["name"] == name)


def drop_the_canary_database(documents):
    documents.remove(find(documents, "Database", "reviews-canary"))


def point_at_the_replicas_service(documents):
    variable = env(documents, "DATABASE_URL")
    variable["value"] = variable["value"].replace("sentiment-postgres-rw", "sentiment-postgres-ro")


def read_the_password_from_a_secret_of_our_own(documents):
    env(documents, "PGPASSWORD")["valueFrom"]["secretKeyRef"]["name"] = "sentiment-secrets"


def misspell_the_password_key(documents):
    env(documents, "PGPASSWORD")["valueFrom"]["secretKeyRef"]["key"] = "passwd"


def mount_the_ca_of_another_cluster(documents):
    volume = next(v for v in pod(documents)["volumes"] if v["name"] == "postgres-ca")
    volume["secret"]["secretName"] = "other-postgres-ca"


def give_the_canary_database_another_owner(documents):
    find(documents, "Database", "reviews-canary")["spec"]["owner"] = "postgres"


def orphan_a_database(documents):
    find(documents, "Database", "reviews-canary")["spec"]["cluster"]["name"] = "sentiment-postgre"


def move_the_root_certificate(documents):
    variable = env(documents, "DATABASE_URL")
    variable["value"] = variable["value"].replace("/etc/sentiment-postgres/ca.crt", "/etc/ssl/ca.crt")


def run_one_replica(documents):
    find(documents, "HorizontalPodAutoscaler", "app-service-canary")["spec"]["minReplicas"] = 1


def roll_with_a_pod_unavailable(documents):
    find(documents, "Deployment", "app-service-canary")["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] = 1


def budget_every_replica(documents):
    find(documents, "PodDisruptionBudget", "app-service-canary")["spec"]["minAvailable"] = 2


def drop_the_budget(documents):
    documents.remove(find(documents, "PodDisruptionBudget", "app-service-canary"))


def drop_the_spread(documents):
    del pod(documents)["topologySpreadConstraints"]


def drop_the_drain(documents):
    del app_container(documents)["lifecycle"]


def drain_longer_than_the_grace_period(documents):
    app_container(documents)["lifecycle"]["preStop"]["sleep"]["seconds"] = 28


def drain_shorter_than_the_mesh_propagation(documents):
    app_container(documents)["lifecycle"]["preStop"]["sleep"]["seconds"] = 1


MUTATIONS = [
    (drop_the_canary_database, database.each_arm_reaches_its_database,
     "Deployment/app-service-canary: DATABASE_URL names database 'reviews_canary', which Cluster/sentiment-postgres "
     "does not have (it has ['reviews_stable']): add a Database"),
    (point_at_the_replicas_service, database.each_arm_reaches_its_database,
     "DATABASE_URL names host 'sentiment-postgres-ro', which is the primary (<cluster>-rw) of no Cluster here"),
    (read_the_password_from_a_secret_of_our_own, database.each_arm_reaches_its_database,
     "the database's password comes from no Secret/sentiment-postgres-app (PGPASSWORD)"),
    (misspell_the_password_key, wiring.references_exist,
     "app-service reads key passwd of Secret/sentiment-postgres-app, which has no such key"),
    (mount_the_ca_of_another_cluster, wiring.references_exist,
     "volume postgres-ca mounts Secret/other-postgres-ca, which does not exist"),
    (give_the_canary_database_another_owner, database.each_arm_reaches_its_database,
     "database reviews_canary is owned by postgres, not by app_service"),
    (orphan_a_database, database.each_arm_reaches_its_database,
     "Database/reviews-canary: its cluster sentiment-postgre is no Cluster here"),
    (move_the_root_certificate, database.each_arm_reaches_its_database,
     "sslrootcert /etc/ssl/ca.crt is not mounted from Secret/sentiment-postgres-ca's ca.crt"),
    (run_one_replica, database.replicas_roll_without_downtime,
     "Deployment/app-service-canary: 1 replica: one pod's restart would stop the arm"),
    (roll_with_a_pod_unavailable, database.replicas_roll_without_downtime,
     "rolls out with pods unavailable: RollingUpdate with maxUnavailable 0"),
    (budget_every_replica, database.replicas_roll_without_downtime,
     "PodDisruptionBudget/app-service-canary lets none of its 2 pods go"),
    (drop_the_budget, database.replicas_roll_without_downtime, "no PodDisruptionBudget selects its pods"),
    (drop_the_spread, database.replicas_roll_without_downtime, "its replicas are not spread across nodes"),
    (drop_the_drain, database.replicas_roll_without_downtime, "no preStop sleep"),
    (drain_longer_than_the_grace_period, database.replicas_roll_without_downtime,
     "its preStop sleep (28 s) and the app's graceful shutdown (5 s) do not fit in terminationGracePeriodSeconds"),
    (drain_shorter_than_the_mesh_propagation, database.replicas_roll_without_downtime,
     "its preStop sleep (1 s) is shorter than the mesh's endpoint propagation"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "check", "expected"), MUTATIONS, ids=[m.__name__ for m, _, _ in MUTATIONS])
def test_the_database_check_reports_the_break(rendered, mutate, check, expected):
    documents = copy.deepcopy(rendered)
    assert check(Manifests(documents)) == [], "the unbroken deployment already fails this check"
    mutate(documents)
    problems = check(Manifests(documents))
    assert any(expected in problem for problem in problems), problems


@pytest.fixture(scope="module")
def rendered_sqlite() -> list[dict]:
    return render(REPO / "k8s", components=("components/sqlite",), example_secrets=True)


def test_the_sqlite_layout_runs_one_replica_per_arm_on_its_own_volume(rendered_sqlite):
    m = Manifests(rendered_sqlite)
    assert database.replicas_roll_without_downtime(m) == []
    assert m.of_kind("Cluster") == m.of_kind("Database") == m.of_kind("PodDisruptionBudget") == []
    for arm in ARMS:
        deployment = find(rendered_sqlite, "Deployment", f"app-service-{arm}")
        claims = [v["persistentVolumeClaim"]["claimName"] for v in deployment["spec"]["template"]["spec"]["volumes"]
                  if "persistentVolumeClaim" in v]  # fmt: skip
        assert claims == [f"app-service-data-{arm}"]
        assert {v["name"] for v in deployment["spec"]["template"]["spec"]["containers"][0]["env"]} >= {"DATABASE_URL"}


def test_a_sqlite_arm_of_two_replicas_is_refused(rendered_sqlite):
    documents = copy.deepcopy(rendered_sqlite)
    find(documents, "Deployment", "app-service-stable")["spec"]["replicas"] = 2
    assert database.replicas_roll_without_downtime(Manifests(documents)) == [
        "Deployment/app-service-stable: a SQLite database has one writer: 1 replica and the Recreate strategy, "
        "not 2 and Recreate"
    ]


def test_a_sqlite_arm_rolled_out_beside_itself_is_refused_as_a_read_write_once_claim_on_two_nodes(rendered_sqlite):
    # Given the SQLite layout, whose arms each mount a ReadWriteOnce claim, and one of them rolled out, not recreated
    documents = copy.deepcopy(rendered_sqlite)
    assert wiring.read_write_once_claims_attach(Manifests(documents)) == []
    find(documents, "Deployment", "app-service-canary")["spec"]["strategy"] = {"type": "RollingUpdate"}

    # Then the new pod may start on another node than the old one, which the check refuses
    problems = wiring.read_write_once_claims_attach(Manifests(documents))
    assert any(
        "PersistentVolumeClaim/app-service-data-canary (ReadWriteOnce): Deployment/app-service-canary's pods mount it "
        "beside its own new pod in a rollout, and nothing requires them on one node" in problem
        for problem in problems
    ), problems


def sqlite_autoscaler(arm: str, most: int) -> dict:
    """An autoscaler of the arm's app-service as the PostgreSQL layout has it, up to `most` replicas."""
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": f"app-service-{arm}", "namespace": "sentiment"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": f"app-service-{arm}"},
            "minReplicas": 1,
            "maxReplicas": most,
        },
    }


def test_the_sqlite_layout_has_no_autoscaler_of_the_app_service(rendered_sqlite):
    m = Manifests(rendered_sqlite)
    scaled = {autoscaler["spec"]["scaleTargetRef"]["name"] for autoscaler in m.of_kind("HorizontalPodAutoscaler")}
    assert scaled == {f"{service}-{arm}" for service in ("app-frontend", "model-service") for arm in ARMS}
    assert autoscaling.every_arm_autoscales(m) == []


def test_a_sqlite_arm_under_an_autoscaler_of_two_replicas_is_refused(rendered_sqlite):
    # Given the SQLite layout with the autoscaler the PostgreSQL layout gives the canary's app-service
    documents = [*copy.deepcopy(rendered_sqlite), sqlite_autoscaler("canary", 2)]
    del find(documents, "Deployment", "app-service-canary")["spec"]["replicas"]
    m = Manifests(documents)

    # Then both checks refuse a second writer on the file
    assert autoscaling.every_arm_autoscales(m) == [
        "HorizontalPodAutoscaler/app-service-canary: scales Deployment/app-service-canary, an app-service on SQLite, "
        "to 2 replicas: a SQLite file has one writer (no autoscaler, or maxReplicas 1)"
    ]
    assert database.replicas_roll_without_downtime(m) == [
        "Deployment/app-service-canary: a SQLite database has one writer: 1 replica and the Recreate strategy, "
        "not 1 to 2 (its HorizontalPodAutoscaler) and Recreate"
    ]


def test_a_sqlite_arm_under_an_autoscaler_of_one_replica_passes(rendered_sqlite):
    documents = [*copy.deepcopy(rendered_sqlite), sqlite_autoscaler("stable", 1)]
    del find(documents, "Deployment", "app-service-stable")["spec"]["replicas"]
    m = Manifests(documents)
    assert autoscaling.every_arm_autoscales(m) == []
    assert autoscaling.autoscalers_scale_workloads(m) == []
    assert database.replicas_roll_without_downtime(m) == []
