"""The user's whole flow across the three services, as real processes on 127.0.0.1."""

import csv
import hashlib
import io
import json
import re
import sqlite3
from contextlib import closing

import httpx
import pytest
from support.services import EXPORT_KEY, metric, train

pytestmark = pytest.mark.slow

# Reviews and the label a user says is right; the demo model gets some of them wrong.
REVIEWS = [
    ("The pasta was delicious and the staff were friendly.", "positive"),
    ("Cold fries, rude waiter. Never again.", "negative"),
    ('The "special" was stale\tand bland.', "negative"),
    ("Wonderful sushi, we will come back!", "positive"),
    ("I waited an hour and the soup was awful.", "negative"),
    ("Great value, amazing dessert.", "positive"),
    ("Not good.", "negative"),
    ("Best burger in town.", "positive"),
    ("The salad was terrible\nand the steak disgusting.", "negative"),
    ("Fresh, tasty and quick service.", "positive"),
    ("Overpriced and boring.", "negative"),
    ("Lovely place, excellent pizza.", "positive"),
]


def page_data(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-([a-z-]+)="([^"]*)"', html))


def test_a_review_goes_from_the_page_to_a_prediction_to_feedback_to_an_export_that_retrains_the_model(
    stack, release, tmp_path
):
    """The issue's round trip: page -> review -> prediction -> feedback -> export -> the training CLI."""
    # Given the page a first-time visitor gets
    page = httpx.get(stack.frontend.url)
    data = page_data(page.text)
    api, version, visitor = data["api-url"], data["app-version"], data["visitor-id"]
    assert (api, version) == (stack.app.url, "stable")
    assert [cookie.split(";")[0] for cookie in page.headers.get_list("set-cookie")] == [
        "app-version=stable", f"visitor-id={visitor}",
    ]  # fmt: skip
    headers = {"X-App-Version": version, "X-Visitor-Id": visitor, "Origin": stack.origin}

    # When the visitor sends reviews and says which label is right
    predicted = {}
    with httpx.Client(base_url=api, headers=headers) as browser:
        for review, truth in REVIEWS:
            answer = browser.post("/api/v1/sentiment", json={"review": review})
            assert answer.status_code == 200, f"{answer.text}\n{stack.app.log()}"
            assert answer.headers["access-control-allow-origin"] == stack.origin
            body = answer.json()
            assert body["versions"] == {"app_service": "stable", "model_service": "stable", "model": release.version}
            assert body["confidence"] is None
            predicted[review] = body["label"]
            feedback = browser.post(f"/api/v1/reviews/{body['id']}/feedback", json={"label": truth})
            assert feedback.status_code == 200, feedback.text
            assert feedback.json()["outcome"] == ("confirmed" if truth == body["label"] else "corrected")

    # Then the export holds every review with the user's label, in the training format
    export = httpx.get(f"{api}/api/v1/reviews/export", headers={"X-API-Key": EXPORT_KEY})
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.text, newline=""), delimiter="\t"))
    assert rows == [["Review", "Liked"]] + [[review, "1" if truth == "positive" else "0"] for review, truth in REVIEWS]

    # And the training CLI retrains on it
    data_file = tmp_path / "export.tsv"
    data_file.write_bytes(export.content)
    retrained = train(tmp_path / "retrained", "v0.0.2-retrained", "--data", str(data_file))
    assert retrained.returncode == 0, retrained.stderr
    manifest = json.loads((tmp_path / "retrained" / "v0.0.2-retrained" / "model.json").read_text())
    assert manifest["data_rows"] == len(REVIEWS)
    assert manifest["data_sha256"] == hashlib.sha256(export.content).hexdigest()

    # And every review is stored with the visitor's id, and the experiment's metrics saw it all, per visitor too
    with closing(sqlite3.connect(tmp_path / "reviews-stable.db")) as db:
        assert db.execute("SELECT DISTINCT visitor_id FROM reviews").fetchall() == [(visitor,)]
    corrections = sum(predicted[review] != truth for review, truth in REVIEWS)
    assert metric(stack.app, 'reviews_submitted_total{version="stable"}') == len(REVIEWS)
    assert metric(stack.app, 'user_feedback_total{outcome="corrected",version="stable"}') == corrections
    assert metric(stack.app, 'reviews_awaiting_feedback{version="stable"}') == 0
    assert metric(stack.frontend, 'page_views_total{version="stable"}') == 1
    assert metric(stack.frontend, 'experiment_assignments_total{version="stable"}') == 1
    assert metric(stack.app, 'experiment_visitors_total{version="stable"}') == 1
    assert metric(stack.app, 'experiment_visitor_reviews_squared_total{version="stable"}') == len(REVIEWS) ** 2
