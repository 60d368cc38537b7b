"""Both arms of the three services as real processes, watched by a real Prometheus with the PrometheusRule's
rules and a real Alertmanager with the AlertmanagerConfig's routes, e-mailing a local sink: every recording
rule and dashboard panel has data, the experiment report reads the traffic, and an outage becomes an e-mail."""

import json
import re
import signal
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
import yaml
from sentiment_devtools.experiment.__main__ import main as experiment_report
from sentiment_devtools.experiment.declaration import load
from sentiment_devtools.experiment.prometheus import read_arms
from sentiment_devtools.experiment.visitors import VisitorSums
from sentiment_devtools.stack.monitoring.config import RouteTiming, rule_groups
from sentiment_devtools.stack.monitoring.servers import Ports, configure
from sentiment_devtools.system import API_HOST, ARMS, SERVICES
from support.mesh import running_stack
from support.monitoring import query, received_mail, start_all
from support.services import ProcessGroup, Stack, free_port, launch_stack
from support.visitor_sums import sums_in_store, visitors_in_store
from support.waiting import wait_until

pytestmark = pytest.mark.slow

DASHBOARDS = Path(__file__).resolve().parents[2] / "k8s/components/monitoring/dashboards"
DECLARATIONS = Path(__file__).resolve().parents[2] / "k8s/experiments"
# What each arm's users do: each visitor's reviews, and how many of them they corrected (feedback on all).
VISITORS = {"stable": [(8, 1), (6, 1), (4, 0), (2, 0)], "canary": [(4, 2), (4, 1), (4, 1), (4, 0), (4, 0)]}
TRAFFIC = {version: tuple(map(sum, zip(*visitors, strict=True))) for version, visitors in VISITORS.items()}
# New visitors each arm's frontend served a page to.
FIRST_VISITS = 3
# The gateway's job, as its PodMonitor names it (jobLabel: app).
GATEWAY_JOB = "sentiment-ingressgateway"
# Grafana's built-in variables, as Grafana would fill them for a short time range.
BUILT_IN = {"$__rate_interval": "30s", "$__range": "1h", "$__interval": "1s"}


@dataclass(frozen=True)
class Watched:
    stacks: dict[str, Stack]
    prometheus: str
    maildir: Path
    data_dir: Path  # each arm's store: reviews-<version>.db


@contextmanager
def watching(release, documents, folder: Path, versions: Iterable[str]) -> Iterator[Watched]:
    """The arms' chains, scraped by a Prometheus that e-mails its alerts through an Alertmanager to a sink."""
    group = ProcessGroup(folder)
    try:
        stacks = {version: launch_stack(group, release, folder, version) for version in versions}
        group.wait_ready()
        targets = {
            "model-service": {v: f"127.0.0.1:{s.model.port}" for v, s in stacks.items()},
            "app-service": {v: f"127.0.0.1:{s.app.port}" for v, s in stacks.items()},
            "app-frontend": {v: f"127.0.0.1:{s.frontend.port}" for v, s in stacks.items()},
        }
        # Scrapes, evaluations and Alertmanager's waits in seconds, not minutes: the test's only difference.
        ports = Ports(free_port(), free_port(), free_port())
        servers = configure(
            folder / "monitoring", documents, targets, ports, "1s", RouteTiming(group_wait="1s", group_interval="1s")
        )
        start_all(servers, group.supervisor)
        wait_until(
            lambda: _targets_scraped(ports.prometheus_url),
            lambda scraped: scraped == {(job, version) for job in targets for version in stacks},
            what="a first scrape of every target",
        )
        yield Watched(stacks, ports.prometheus_url, folder / "monitoring" / "mail", folder)
    finally:
        group.stop_all()


@pytest.fixture(scope="module")
def watched(release, documents, tmp_path_factory) -> Iterator[Watched]:
    """Both arms after their users' traffic (TRAFFIC), every rule evaluated on it; the tests only read."""
    with watching(release, documents, tmp_path_factory.mktemp("watched"), TRAFFIC) as watched:
        _drive_traffic(watched.stacks)
        scraped = wait_until(
            lambda: query(watched.prometheus, "sum by (version) (user_feedback_total)"),
            lambda samples: _by_version(samples) == {"stable": 20, "canary": 20},
            what="the feedback scraped",
            describe=_by_version,
        )
        # Series born with the traffic have a rate once scraped twice
        wait_until(
            lambda: query(watched.prometheus, "namespace_job_version:http_requests:rate5m"),
            lambda samples: len(samples) == 6,
            what="a request rate for each of the six targets",
        )
        # A recording rule's value is the one of its group's last evaluation: wait for one made on all the traffic.
        seen_at = min(float(sample["value"][0]) for sample in scraped)
        wait_until(
            lambda: _rule_groups_evaluated(watched.prometheus),
            lambda evaluated: min(evaluated.values()) > seen_at,
            what=f"every rule group evaluated after the traffic was scraped (at {seen_at})",
        )
        yield watched


@pytest.fixture
def watched_canary(release, documents, tmp_path) -> Iterator[Watched]:
    """The canary's chain alone, for a test that breaks it."""
    with watching(release, documents, tmp_path, ["canary"]) as watched:
        yield watched


def test_every_service_and_version_is_scraped_with_the_labels_the_service_monitor_gives(watched):
    targets = {
        (t["metric"]["namespace"], t["metric"]["job"], t["metric"]["version"])
        for t in query(watched.prometheus, "app_info")
    }

    assert targets == {("sentiment", job, version) for job in SERVICES for version in ARMS}
    assert {sample["value"][1] for sample in query(watched.prometheus, "up")} == {"1"}


def gateway_records(documents) -> set[str]:
    """The recording rules that read the gateway's metrics alone: the gateway test proves them."""
    rules = [rule for group in rule_groups(documents)["groups"] for rule in group["rules"] if "record" in rule]
    return {rule["record"] for rule in rules if set(re.findall(r'job="([^"]+)"', rule["expr"])) == {GATEWAY_JOB}}


def test_every_recording_rule_has_a_value_for_both_versions_or_one_without_version(watched, documents):
    records = [
        rule["record"]
        for group in rule_groups(documents)["groups"]
        for rule in group["rules"]
        if "record" in rule and rule["record"] not in gateway_records(documents)
    ]

    versions = {
        record: {s["metric"].get("version", "no version") for s in query(watched.prometheus, record)}
        for record in records
    }

    # The level (namespace_job_version:..., namespace_job:...) says whether a rule is split by version
    expected = {
        record: set(ARMS) if "version" in record.split(":")[0].split("_") else {"no version"} for record in records
    }
    assert {record: found for record, found in versions.items() if found != expected[record]} == {}


def test_the_correction_rate_is_the_share_of_reviews_corrected_per_version(watched):
    rates = _values(watched.prometheus, "namespace_job_version:user_corrections_per_reviews_submitted:ratio_rate1h")

    assert rates == pytest.approx({"stable": 0.1, "canary": 0.2}, rel=0.05)


@pytest.mark.parametrize("dashboard", sorted(path.name for path in DASHBOARDS.glob("*.json")))
def test_every_panel_query_of_the_dashboard_parses_and_has_data(watched, dashboard):
    board = json.loads((DASHBOARDS / dashboard).read_text())
    variables = {
        f"${variable['name']}": "(" + "|".join(_label_values(watched.prometheus, variable["query"]["query"])) + ")"
        for variable in board["templating"]["list"]
        if variable["type"] == "query"
    }
    queries = {
        f"{panel['title']} [{target['refId']}]": _substitute(target["expr"], {**BUILT_IN, **variables})
        for panel in board["panels"]
        for target in panel["targets"]
    }

    empty = {name: promql for name, promql in queries.items() if not query(watched.prometheus, promql)}

    assert queries
    assert empty == {}


def test_the_experiment_report_reads_the_traffic_each_arm_got(watched, tmp_path, capsys):
    # The confidence-display experiment, declared to have started an hour ago
    declared = load(DECLARATIONS / "confidence-display.yaml").model_dump(mode="json")
    declared["start"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    declaration = tmp_path / "declaration.yaml"
    declaration.write_text(yaml.safe_dump(declared))
    # increase() extrapolates a counter to its window's end by up to a scrape interval (a few percent of a
    # test's seconds of data, nothing of an experiment's days), so each arm is read in a window that ends on
    # its own last scrape, where the counts are exact: every counter started at zero before the traffic.
    last_scrapes = _values(watched.prometheus, 'timestamp(reviews_submitted_total{job="app-service"})')
    columns = {}
    for column, version in enumerate(ARMS):
        chart = tmp_path / f"report-{version}.png"
        at = ["--at", str(last_scrapes[version])]
        code = experiment_report(
            ["--declaration", str(declaration), "--prometheus", watched.prometheus, *at, "--chart", str(chart)]
        )

        printed = capsys.readouterr().out
        print(printed)
        assert code == 0
        # The split is checked first (6 visitors say nothing yet; the frontends' counts are read at the app-service's
        # scrape, so increase() may extrapolate them a little), then the visitor-level test: far from the plan
        assert re.search(r"assigned visitors stable \d, canary \d \(\d+\.\d%, declared 10%\): no mismatch", printed)
        assert "Decision: CONTINUE" in printed
        assert chart.exists()
        rows = dict(re.findall(r"^  (visitors with a review|reviews|corrections|error ratio) {2,}(.+)$", printed, re.M))
        columns[version] = {label: re.split(r" {2,}", row)[column] for label, row in rows.items()}

    assert columns == {
        version: {
            "visitors with a review": str(len(VISITORS[version])),
            "reviews": str(reviews),
            "corrections": str(corrected),
            # Each review's feedback and the arm's one version call are API requests too
            "error ratio": f"0.00% (0 of {2 * reviews + 1})",
        }
        for version, (reviews, corrected) in TRAFFIC.items()
    }


def test_the_reports_per_visitor_sums_are_those_of_the_stores_rows_and_give_the_delta_method_variance(watched):
    last_scrapes = _values(watched.prometheus, 'timestamp(reviews_submitted_total{job="app-service"})')
    frontend_scrapes = _values(watched.prometheus, 'timestamp(experiment_assignments_total{job="app-frontend"})')
    for version in ARMS:
        # Given what the arm's store holds, visitor by visitor
        database = watched.data_dir / f"reviews-{version}.db"
        visitors = np.array(visitors_in_store(database), dtype=float)
        reviews, corrections = visitors[:, 0], visitors[:, 2]

        # When the report reads the arm from Prometheus, at its last scrapes (where increase() is exact): the
        # app-service's for the sums, the frontend's for the assignments
        read = read_arms(watched.prometheus, "sentiment", window_seconds=3600, at=last_scrapes[version])[version]
        assigned = read_arms(watched.prometheus, "sentiment", 3600, at=frontend_scrapes[version])[version].assignments

        # Then its sums are the store's, and so is the delta method's variance of the correction rate
        assert read.visitors == VisitorSums(**sums_in_store(database))
        assert (assigned, read.reviews, read.corrections) == (FIRST_VISITS, *TRAFFIC[version])
        rate = corrections.sum() / reviews.sum()
        n = len(visitors)
        per_visitor = n / (n - 1) * ((corrections - rate * reviews) ** 2).sum() / reviews.sum() ** 2
        correction_rate = read.visitors.correction_rate()
        assert float(correction_rate.ratio()) == pytest.approx(rate)
        assert float(correction_rate.variance()) == pytest.approx(per_visitor, rel=1e-9)


def test_a_stopped_model_service_pages_the_team_by_e_mail_once_both_burn_windows_show_it(watched_canary):
    # Given the canary's model-service stopped
    canary = watched_canary.stacks["canary"]
    canary.model.stop()
    started = time.monotonic()

    # When the canary's users keep sending reviews (each a 503 now)
    with httpx.Client(base_url=canary.app.url, headers={"X-App-Version": "canary"}, timeout=5.0) as client:

        def burn_mail() -> list:
            answer = client.post("/api/v1/sentiment", json={"review": "Still waiting for my soup."})
            assert answer.status_code == 503, answer.text
            return [m for m in received_mail(watched_canary.maildir) if "AppServiceErrorBudgetBurnFast" in m["Subject"]]

        # Then the team gets an e-mail saying what burns. How soon depends on the intervals and the traffic
        # before: here (1 s scrapes, evaluations and group wait, no traffic before) in seconds; in the cluster
        # a total outage after steady traffic pages after about 5 minutes (prometheus-rule.test.yaml proves it)
        mail = wait_until(
            burn_mail,
            what="an AppServiceErrorBudgetBurnFast e-mail",
            timeout=60,
            interval=0.5,
            context=lambda: f"alerts: {httpx.get(watched_canary.prometheus + '/api/v1/alerts').text}",
        )
    elapsed = time.monotonic() - started
    message = mail[0]
    text = _text_part(message)
    headers = "".join(f"{name}: {message[name]}\n" for name in ("From", "To", "Subject", "Date"))
    print(f"e-mail after {elapsed:.1f}s:\n{headers}\n{text}")
    assert message["To"] == "sentiment-canary-team@example.com"
    assert message["Subject"].startswith("[FIRING:1] AppServiceErrorBudgetBurnFast canary")
    assert (
        "FIRING AppServiceErrorBudgetBurnFast (critical): app-service canary is burning its error budget 14x too fast"
        in text
    )
    assert (
        "Runbook: https://github.com/sentiment-canary/sentiment-canary/blob/main/docs/runbooks.md#appserviceerrorbudgetburnfast"
        in text
    )


def test_the_gateways_own_503s_burn_the_error_budget_that_the_app_service_cannot_count(release, documents, tmp_path):
    # Given the whole system behind the compiled Envoy, watched by a Prometheus that scrapes the services and,
    # as the gateway's PodMonitor says, Envoy's own /stats/prometheus (the gateway's statistics)
    with running_stack(release, tmp_path / "state") as stack:
        targets = {
            service: {i.version: f"127.0.0.1:{i.port}" for i in stack.instances if i.service == service}
            for service in SERVICES
        }
        ports = Ports(free_port(), free_port(), free_port())
        servers = configure(
            tmp_path / "monitoring", documents, targets, ports, "1s", RouteTiming(group_wait="1s", group_interval="1s"),
            gateway=f"127.0.0.1:{stack.ports.envoy_admin}",
        )  # fmt: skip
        start_all(servers, stack.supervisor)
        prometheus = ports.prometheus_url
        api = httpx.Client(
            base_url=f"http://127.0.0.1:{stack.ports.ingress}",
            headers={"host": f"{API_HOST}:{stack.ports.ingress}", "x-app-version": "canary"},
            timeout=10.0,
        )
        wait_until(
            lambda: {s["metric"]["job"] for s in query(prometheus, "up == 1")},
            lambda jobs: jobs >= {"sentiment-ingressgateway", "app-service"},
            what="a first scrape of the gateway and the app-services",
        )
        with api:

            def served() -> dict[str, float]:
                answer = api.post("/api/v1/sentiment", json={"review": "Lovely gnocchi."})
                assert answer.status_code == 200, answer.text
                return _values(prometheus, "namespace_version:gateway_app_service_errors:ratio_rate5m")

            # And the canary's users served through the gateway, as Prometheus has seen
            wait_until(served, lambda ratios: ratios.get("canary") == 0, what="the gateway's view of the canary")

            # When the canary app-service crashes, and its users keep sending reviews (the gateway answers 503)
            stack.supervisor.stop("app-service/canary", signal.SIGKILL)

            def burning() -> list[dict]:
                answer = api.post("/api/v1/sentiment", json={"review": "Still waiting for my soup."})
                assert answer.status_code == 503, answer.text
                return query(prometheus, 'ALERTS{alertname="AppServiceErrorBudgetBurnFast", alertstate="firing"}')

            # Then the fast burn fires for the canary, from the gateway's view alone
            firing = wait_until(burning, what="AppServiceErrorBudgetBurnFast firing", interval=0.2)
            gateway_view = _values(prometheus, "namespace_version:gateway_app_service_errors:ratio_rate5m")
            records = {record: query(prometheus, record) for record in gateway_records(documents)}
            app_view = _values(prometheus, 'namespace_job_version:http_request_errors:ratio_rate5m{job="app-service"}')

    assert [alert["metric"]["version"] for alert in firing] == ["canary"]
    assert {record: bool(found) for record, found in records.items()} == dict.fromkeys(records, True)
    assert gateway_view["canary"] > 14.4 * 0.005, gateway_view
    # And the app-service itself never counted a single one of those failures
    assert app_view.get("canary", 0) == 0, app_view


def _drive_traffic(stacks: dict[str, Stack]) -> None:
    """Each arm's users, as the page would call: new visitors open the page, then each visitor sends reviews
    with their id, then feedback, some of it a correction."""
    for version, visitors in VISITORS.items():
        stack = stacks[version]
        for _ in range(FIRST_VISITS):
            assert httpx.get(stack.frontend.url + "/").status_code == 200
        with httpx.Client(base_url=stack.app.url, headers={"X-App-Version": version}, timeout=10.0) as client:
            assert client.get("/api/v1/version").status_code == 200
            for number, (reviews, corrected) in enumerate(visitors):
                visitor = {"X-Visitor-Id": f"visitor{number}".ljust(22, "x")}
                for index in range(reviews):
                    text = f"The risotto, visit {index}, was lovely."
                    answer = client.post("/api/v1/sentiment", json={"review": text}, headers=visitor)
                    assert answer.status_code == 200, answer.text
                    predicted = answer.json()["label"]
                    other = "negative" if predicted == "positive" else "positive"
                    label = other if index < corrected else predicted
                    feedback = client.post(f"/api/v1/reviews/{answer.json()['id']}/feedback", json={"label": label})
                    assert feedback.status_code == 200, feedback.text


def _values(prometheus: str, promql: str) -> dict[str, float]:
    return _by_version(query(prometheus, promql))


def _by_version(samples: list[dict]) -> dict[str, float]:
    return {sample["metric"].get("version", ""): float(sample["value"][1]) for sample in samples}


def _targets_scraped(prometheus: str) -> set[tuple[str, str]]:
    """The (job, version) of every target whose last scrape succeeded and carried its app_info."""
    return {
        (s["metric"]["job"], s["metric"]["version"]) for s in query(prometheus, "app_info and on (job, pod) up == 1")
    }


def _rule_groups_evaluated(prometheus: str) -> dict[str, float]:
    """When each rule group was last evaluated (Unix time, Prometheus's clock)."""
    groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10.0).json()["data"]["groups"]
    return {group["name"]: datetime.fromisoformat(group["lastEvaluation"]).timestamp() for group in groups}


def _label_values(prometheus: str, variable_query: str) -> list[str]:
    """Grafana's label_values(selector, label), through the series API."""
    selector, label = re.fullmatch(r"label_values\((.+), (\w+)\)", variable_query).groups()
    series = httpx.get(f"{prometheus}/api/v1/series", params={"match[]": selector}).json()["data"]
    values = sorted({s[label] for s in series if label in s})
    assert values, f"{variable_query} has no values"
    return values


def _substitute(expr: str, values: dict[str, str]) -> str:
    for name in sorted(values, key=len, reverse=True):  # $__rate_interval before $__range...
        expr = expr.replace(name, values[name])
    assert "$" not in expr, expr
    return expr


def _text_part(message) -> str:
    parts = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    return parts[0].get_payload(decode=True).decode() if parts else ""
