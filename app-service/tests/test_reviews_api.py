"""The public API: a review's prediction, the user's feedback and the training export."""

import csv
import io
import re
import sqlite3

import pytest
from app_service.schemas import MAX_REVIEW_CHARS

POSITIVE = "The soup was delicious and the staff were friendly."
NEGATIVE = "The steak was awful and the waiter was rude."


def submit(client, review=POSITIVE, **headers):
    response = client.post("/api/v1/sentiment", json={"review": review}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def feedback(client, review_id, label):
    return client.post(f"/api/v1/reviews/{review_id}/feedback", json={"label": label})


def test_a_review_gets_an_id_a_label_and_the_versions_of_the_whole_chain(client):
    response = client.post("/api/v1/sentiment", json={"review": NEGATIVE})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == "negative"
    assert body["confidence"] is None
    assert body["versions"] == {"app_service": "stable", "model_service": "canary", "model": "v9.9.9"}
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", body["id"]), body["id"]
    assert response.headers["x-served-by"] == "app-service/stable"


def test_the_confidence_is_shown_only_by_a_version_whose_flag_is_on(make_client):
    shown = submit(make_client(show_confidence=True, app_version="canary"))

    assert shown["confidence"] == 0.875
    assert shown["versions"]["app_service"] == "canary"


def test_ids_are_random_not_sequential(client):
    ids = {submit(client)["id"] for _ in range(20)}

    assert len(ids) == 20


def test_confirming_a_prediction_is_stored_once_and_repeating_it_changes_nothing(client, metric):
    review_id = submit(client)["id"]

    first = feedback(client, review_id, "positive")
    again = feedback(client, review_id, "positive")

    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json() == again.json() == {
        "id": review_id, "label": "positive", "predicted_label": "positive", "outcome": "confirmed",
    }  # fmt: skip
    assert metric(client, 'user_feedback_total{outcome="confirmed",version="stable"}') == 1
    assert metric(client, 'reviews_awaiting_feedback{version="stable"}') == 0


def test_a_correction_is_stored_and_counted_by_original_and_corrected_label(client, metric):
    review_id = submit(client, NEGATIVE)["id"]

    response = feedback(client, review_id, "positive")

    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "corrected"
    corrections = 'user_corrections_total{corrected_label="positive",original_label="negative",version="stable"}'
    assert metric(client, corrections) == 1
    assert metric(client, 'user_feedback_total{outcome="corrected",version="stable"}') == 1


def test_changing_feedback_already_given_is_a_409_that_keeps_the_first(client, metric):
    review_id = submit(client)["id"]
    feedback(client, review_id, "positive")

    response = feedback(client, review_id, "negative")

    assert response.status_code == 409
    assert response.json()["detail"] == "feedback for this review was already given: positive"
    assert metric(client, 'user_feedback_total{outcome="corrected",version="stable"}') == 0


@pytest.mark.parametrize("review_id", ["AAAAAAAAAAAAAAAAAAAAAA", "1", "x" * 64])
def test_feedback_for_an_unknown_review_is_a_404(client, review_id):
    response = feedback(client, review_id, "positive")

    assert response.status_code == 404
    assert response.json()["detail"] == "no review with this id"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/sentiment", {"review": ""}),
        ("/api/v1/sentiment", {"review": " \n\t "}),
        ("/api/v1/sentiment", {"review": "x" * (MAX_REVIEW_CHARS + 1)}),
        ("/api/v1/sentiment", {"review": 42}),
        ("/api/v1/sentiment", {"text": "wrong field"}),
        ("/api/v1/sentiment", ["not", "an", "object"]),
        ("/api/v1/reviews/AAAAAAAAAAAAAAAAAAAAAA/feedback", {"label": "meh"}),
        ("/api/v1/reviews/AAAAAAAAAAAAAAAAAAAAAA/feedback", {}),
    ],
)
def test_bad_input_is_a_422_that_says_what_is_wrong(client, model_service, path, body):
    response = client.post(path, json=body)

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"]
    assert model_service.predict_calls == 0


@pytest.mark.parametrize("body", [b'{"review": ', b'{"review": NaN}', b'{"review": "caf\xe9"}'])
def test_a_body_that_is_not_rfc_8259_json_is_a_422_and_never_reaches_the_model_service(client, model_service, body):
    response = client.post("/api/v1/sentiment", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"  # the kit's reader: libs/service-kit/tests
    assert model_service.predict_calls == 0


def test_a_body_over_max_request_bytes_is_a_413_and_never_reaches_the_model_service(make_client, model_service):
    client = make_client(max_request_bytes=2048)

    response = client.post("/api/v1/sentiment", json={"review": "x" * 3000})

    assert (response.status_code, response.json()) == (413, {"detail": "request body too large: at most 2048 bytes"})
    assert model_service.predict_calls == 0
    assert client.post("/api/v1/sentiment", json={"review": "x" * 1000}).status_code == 200


def test_the_export_is_the_training_tsv_of_reviews_with_feedback_labelled_by_the_user(client, export_key):
    tricky = 'She said "never again"\tand left.\nTwo lines.'
    confirmed = submit(client, POSITIVE)["id"]
    corrected = submit(client, tricky)["id"]
    submit(client, "No feedback on this one, so it is not exported.")
    feedback(client, confirmed, "positive")
    feedback(client, corrected, "positive")

    response = client.get("/api/v1/reviews/export", headers={"X-API-Key": export_key})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/tab-separated-values; charset=utf-8"
    assert response.text.startswith("Review\tLiked\n")
    rows = list(csv.reader(io.StringIO(response.text, newline=""), delimiter="\t"))
    assert rows == [["Review", "Liked"], [POSITIVE, "1"], [tricky, "1"]]


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789", "test-export-key-0123456789x", "test-export-key"])
def test_the_export_needs_the_api_key(client, key):
    response = client.get("/api/v1/reviews/export", headers={"X-API-Key": key} if key else {})

    assert response.status_code == 401
    assert response.json()["detail"] == "a valid X-API-Key header is required"


def test_the_export_is_disabled_when_no_key_is_configured(make_client):
    client = make_client(export_api_key="")

    response = client.get("/api/v1/reviews/export", headers={"X-API-Key": ""})

    assert response.status_code == 503
    assert "no EXPORT_API_KEY is configured" in response.json()["detail"]


def test_a_failed_write_is_a_503_and_the_review_is_not_counted(client, tmp_path, metric):
    # Given a database that refuses every new review (as a full disk would)
    with sqlite3.connect(tmp_path / "data" / "reviews.db") as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON reviews BEGIN SELECT RAISE(ABORT, 'disk full'); END")

    response = client.post("/api/v1/sentiment", json={"review": POSITIVE})

    assert response.status_code == 503
    assert response.json()["detail"] == "could not store the review: disk full; nothing was saved; please try again"
    assert metric(client, 'reviews_submitted_total{version="stable"}') == 0


def test_reviews_awaiting_feedback_start_from_the_store_after_a_restart(make_client, metric):
    first = make_client()
    for review in (POSITIVE, NEGATIVE, POSITIVE):
        submit(first, review)
    feedback(first, submit(first)["id"], "positive")

    restarted = make_client()

    assert metric(restarted, 'reviews_awaiting_feedback{version="stable"}') == 3
