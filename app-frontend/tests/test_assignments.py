"""The experiment's assignments the page counts, and the fault for tests that drops first visits."""

from scipy.stats import binom


def metric(client, sample: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no sample {sample} in /metrics")


def assignments(client, version: str = "stable") -> float:
    return metric(client, f'experiment_assignments_total{{version="{version}"}}')


def test_assignments_start_at_zero_and_count_first_visits_only(make_client):
    client = make_client(app_version="canary")
    assert assignments(client, "canary") == 0

    # Two new visitors, one of them with a cookie that names no arm, and one who comes back
    client.cookies.set("app-version", "canaryX")
    client.get("/")
    client.cookies.clear()
    client.get("/")
    client.get("/")  # with the cookie the first answer set

    assert assignments(client, "canary") == 2
    assert metric(client, 'page_views_total{version="canary"}') == 3


def test_a_returning_visitor_of_the_other_arm_is_no_assignment_of_this_one(make_client):
    # Locally a visitor may open the other arm's URL; behind the mesh their cookie sends them to their own
    client = make_client(app_version="stable")
    client.cookies.set("app-version", "canary")

    client.get("/")

    assert assignments(client) == 0


def test_the_fault_for_tests_is_off_unless_set(client):
    for _ in range(20):
        client.cookies.clear()
        assert client.get("/").status_code == 200

    assert assignments(client) == 20


def test_the_fault_answers_first_visits_with_a_503_and_counts_none_of_them(make_client):
    client = make_client(fault_drop_first_visits_share=1.0)

    dropped = client.get("/")
    client.cookies.set("app-version", "stable")
    returning = client.get("/")

    assert dropped.status_code == 503
    assert dropped.headers.get_list("set-cookie") == []
    assert returning.status_code == 200
    assert assignments(client) == 0
    assert metric(client, 'page_views_total{version="stable"}') == 1


def test_the_fault_drops_about_its_share_of_first_visits(make_client):
    """400 first visits at a share of 0.3: the binomial 99.99% interval is 93-150 dropped, so this fails
    once in 10,000 runs by chance; a fault that dropped nothing, or every visit, is far outside it."""
    client = make_client(fault_drop_first_visits_share=0.3)

    statuses = []
    for _ in range(400):
        client.cookies.clear()
        statuses.append(client.get("/").status_code)

    low, high = binom.interval(0.9999, 400, 0.3)
    assert low <= statuses.count(503) <= high, statuses.count(503)
    assert set(statuses) == {200, 503}
    assert assignments(client) == statuses.count(200)
