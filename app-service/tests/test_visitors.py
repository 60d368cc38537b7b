"""The visitor behind each review: stored with it, never echoed, and counted into the per-visitor sums."""

import sqlite3
from contextlib import closing

import pytest

ANA, BO = "AnaAnaAnaAnaAnaAnaAna_", "Bo-Bo-Bo-Bo-Bo-Bo-Bo-B"
LIKED, DISLIKED = "Lovely soup and kind staff.", "The steak was awful."
SUMS = (
    "experiment_visitors_total", "reviews_submitted_total", "experiment_visitor_reviews_squared_total",
    "experiment_visitor_feedback_squared_total", "experiment_visitor_corrections_squared_total",
    "experiment_visitor_reviews_feedback_total", "experiment_visitor_reviews_corrections_total",
    "experiment_visitor_feedback_corrections_total",
)  # fmt: skip


def review(client, text=LIKED, visitor=None):
    headers = {"X-Visitor-Id": visitor} if visitor is not None else {}
    response = client.post("/api/v1/sentiment", json={"review": text}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def feedback(client, review_id, label, **headers):
    response = client.post(f"/api/v1/reviews/{review_id}/feedback", json={"label": label}, headers=headers)
    assert response.status_code in (200, 409), response.text


def stored(tmp_path, review_id):
    with closing(sqlite3.connect(tmp_path / "data" / "reviews.db")) as db:
        return db.execute(
            "SELECT visitor_id, app_version, experiment_id FROM reviews WHERE id = ?", (review_id,)
        ).fetchone()


def test_a_review_is_stored_with_its_visitor_its_arm_and_the_experiment(make_client, tmp_path, metric):
    client = make_client(app_version="canary", experiment_id="confidence-display")

    review_id = review(client, visitor=ANA)

    assert stored(tmp_path, review_id) == (ANA, "canary", "confidence-display")
    assert metric(client, 'reviews_by_header_visitor_id_total{header_visitor_id="valid",version="canary"}') == 1


def test_with_no_experiment_declared_the_experiment_is_empty(client, tmp_path):
    assert stored(tmp_path, review(client, visitor=ANA)) == (ANA, "stable", "")


@pytest.mark.parametrize(
    ("header", "counted_as"),
    [(None, "absent"), ("", "invalid"), ("short", "invalid"), (ANA + "x", "invalid"), ('<script>"x', "invalid")],
)
def test_a_missing_or_malformed_visitor_id_is_stored_as_none_counted_and_never_echoed(
    client, tmp_path, metric, header, counted_as
):
    headers = {"X-Visitor-Id": header} if header is not None else {}
    response = client.post("/api/v1/sentiment", json={"review": LIKED}, headers=headers)

    assert response.status_code == 200, response.text
    assert stored(tmp_path, response.json()["id"])[0] is None
    assert (
        metric(client, f'reviews_by_header_visitor_id_total{{header_visitor_id="{counted_as}",version="stable"}}') == 1
    )
    if header:
        assert header not in response.text
        assert header not in str(response.headers)
        assert header not in client.get("/metrics").text


def test_the_per_visitor_sums_are_those_of_the_visitors_reviews_feedback_and_corrections(client, metric):
    # Given Ana: 3 reviews, 2 with feedback, 1 corrected; Bo: 1 review, corrected; two reviews without a visitor
    # id, one confirmed; and feedback given twice, or changed, which counts once
    ana = [review(client, LIKED, ANA), review(client, DISLIKED, ANA), review(client, LIKED, ANA)]
    feedback(client, ana[0], "positive")
    feedback(client, ana[1], "positive")
    feedback(client, ana[1], "positive")
    feedback(client, ana[1], "negative")
    feedback(client, review(client, LIKED, BO), "negative", **{"X-Visitor-Id": ANA})  # Bo's review, whoever sends
    feedback(client, review(client, LIKED), "positive")
    review(client, LIKED, "not an id")

    # Then, per visitor (M, F, C): Ana (3, 2, 1), Bo (1, 1, 1), and each review without a visitor alone: (1, 1, 0),
    # (1, 0, 0)
    sums = {name: metric(client, f'{name}{{version="stable"}}') for name in SUMS}
    assert sums == {
        "experiment_visitors_total": 4,
        "reviews_submitted_total": 6,
        "experiment_visitor_reviews_squared_total": 9 + 1 + 1 + 1,
        "experiment_visitor_feedback_squared_total": 4 + 1 + 1 + 0,
        "experiment_visitor_corrections_squared_total": 1 + 1 + 0 + 0,
        "experiment_visitor_reviews_feedback_total": 6 + 1 + 1 + 0,
        "experiment_visitor_reviews_corrections_total": 3 + 1 + 0 + 0,
        "experiment_visitor_feedback_corrections_total": 2 + 1 + 0 + 0,
    }
    assert metric(client, 'user_feedback_total{outcome="confirmed",version="stable"}') == 2
    assert metric(client, 'user_feedback_total{outcome="corrected",version="stable"}') == 2


def test_a_review_the_store_could_not_save_counts_nothing(client, tmp_path, metric):
    with closing(sqlite3.connect(tmp_path / "data" / "reviews.db")) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON reviews BEGIN SELECT RAISE(FAIL, 'disk on fire'); END")
        db.commit()

    response = client.post("/api/v1/sentiment", json={"review": LIKED}, headers={"X-Visitor-Id": ANA})

    assert response.status_code == 503, response.text
    assert {name: metric(client, f'{name}{{version="stable"}}') for name in SUMS} == dict.fromkeys(SUMS, 0)
    assert metric(client, 'reviews_by_header_visitor_id_total{header_visitor_id="valid",version="stable"}') == 0
