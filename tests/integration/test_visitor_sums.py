"""Two replicas of one arm's app-service on one store (a SQLite file, or a PostgreSQL database), written at once
by the same visitors: the per-visitor sums they export, added up as Prometheus adds them, are exactly those of
the store's rows."""

import asyncio
import random
from collections import Counter

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sentiment_devtools.experiment.prometheus import VISITOR_SERIES
from support.postgres import postgres_server, postgres_url, postgresql  # noqa: F401 (fixtures)
from support.services import app_service_env, model_service_env
from support.visitor_sums import sums_in_store

pytestmark = pytest.mark.slow

VISITORS = [f"visitor-{number}".ljust(22, "x") for number in range(8)]
# Calls that name no valid visitor: each of their reviews is a visitor of its own.
NO_VISITOR = [None, "not-an-id"]
REVIEWS = ("The pasta was lovely.", "The soup was cold and bland.", "Friendly staff, great wine.", "Never again.")


def exported(url: str) -> Counter:
    """Every counter of the replica's /metrics, by name, summed over its labels (as `sum by (version)` does)."""
    totals: Counter = Counter()
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5.0).text):
        if family.type == "counter":
            totals[family.name + "_total"] += sum(s.value for s in family.samples if s.name.endswith("_total"))
    return totals


async def visit(client: httpx.AsyncClient, replicas: list[str], rng: random.Random, seen: Counter) -> None:
    """One review to either replica, then maybe feedback, to either, or to both at once (a race for the first)."""
    visitor = rng.choice(VISITORS + NO_VISITOR)
    headers = {"X-App-Version": "stable"} | ({"X-Visitor-Id": visitor} if visitor else {})
    answer = await client.post(f"{rng.choice(replicas)}/api/v1/sentiment", json={"review": rng.choice(REVIEWS)},
                               headers=headers)  # fmt: skip
    assert answer.status_code == 200, answer.text
    seen["reviews"] += 1
    if rng.random() < 0.3:
        return
    review = answer.json()
    labels = [rng.choice(("positive", "negative")) for _ in range(2)]
    targets = replicas if rng.random() < 0.3 else [rng.choice(replicas)]
    feedback = await asyncio.gather(*(
        client.post(f"{url}/api/v1/reviews/{review['id']}/feedback", json={"label": label}, headers=headers)
        for url, label in zip(targets, labels, strict=False)
    ))  # fmt: skip
    for response in feedback:
        assert response.status_code in (200, 409), response.text
        seen[f"feedback {response.status_code}"] += 1


async def workload(replicas: list[str], visits: int, in_flight: int, seed: int) -> Counter:
    rng = random.Random(seed)
    seen: Counter = Counter()
    limit = asyncio.Semaphore(in_flight)

    async def limited() -> None:
        async with limit:
            await visit(client, replicas, rng, seen)

    async with httpx.AsyncClient(timeout=10.0) as client:
        await asyncio.gather(*(limited() for _ in range(visits)))
    return seen


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path) -> str:
    """The one database both replicas write: a SQLite file, or a PostgreSQL database of the test's own."""
    if request.param == "sqlite":
        return str(tmp_path / "reviews.db")
    return request.getfixturevalue("postgres_url")


def test_two_replicas_written_at_once_export_exactly_the_per_visitor_sums_of_the_stores_rows(
    processes, release, tmp_path, database
):
    # Given one model-service and two replicas of the stable app-service on one database, started at once
    model = processes.launch("model_service", **model_service_env(release, tmp_path / "model-cache"))
    replicas = [
        processes.launch("app_service", **app_service_env(model, database, EXPERIMENT_ID="confidence-display"))
        for _ in range(2)
    ]
    processes.wait_ready()

    # When the same visitors review and give feedback through both replicas at once, 16 calls in flight
    seen = asyncio.run(workload([replica.url for replica in replicas], visits=300, in_flight=16, seed=16))

    # Then the sums the replicas export add up to the ones computed from the store's rows alone
    counters = [exported(replica.url) for replica in replicas]
    exported_sums = {field: int(sum(c[name] for c in counters)) for field, name in VISITOR_SERIES.items()}
    in_store = sums_in_store(database)
    print(f"\n{dict(seen)}; per replica, reviews {[c['reviews_submitted_total'] for c in counters]}; sums {in_store}")
    assert exported_sums == in_store
    assert in_store["reviews"] == seen["reviews"] == 300
    # And both replicas took a share, and first feedbacks raced each other
    assert all(c["reviews_submitted_total"] > 50 for c in counters)
    assert seen["feedback 409"] > 0
