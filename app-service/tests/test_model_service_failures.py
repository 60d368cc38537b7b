"""The model-service down, slow or misbehaving: a clear 503 (or 502) within the timeout, never a 500, never a hang."""

import time

import pytest

REVIEW = {"review": "The soup was delicious."}


def test_model_service_down_gives_503_at_once_and_stores_nothing(make_client, metric, nothing_listening_url):
    client = make_client(model_service_url=nothing_listening_url)

    started = time.monotonic()
    response = client.post("/api/v1/sentiment", json=REVIEW)
    elapsed = time.monotonic() - started

    assert response.status_code == 503, response.text
    assert response.json()["detail"].startswith("cannot reach the model-service")
    assert elapsed < 0.5
    assert metric(client, 'model_service_errors_total{reason="unavailable",version="stable"}') == 1
    assert metric(client, 'reviews_submitted_total{version="stable"}') == 0
    assert metric(client, 'reviews_awaiting_feedback{version="stable"}') == 0


def test_a_slow_model_service_gives_503_within_the_timeout_without_a_retry(make_client, model_service, metric):
    client = make_client(model_service_timeout_seconds=0.3)
    model_service.mode = "slow"

    started = time.monotonic()
    response = client.post("/api/v1/sentiment", json=REVIEW)
    elapsed = time.monotonic() - started

    assert response.status_code == 503, response.text
    assert response.json()["detail"].startswith("the model-service did not answer in time")
    assert 0.3 <= elapsed < 0.8, elapsed
    assert model_service.predict_calls == 1
    assert metric(client, 'model_service_errors_total{reason="timeout",version="stable"}') == 1


def test_a_dropped_connection_is_retried_once(client, model_service, metric):
    model_service.mode = "drop_once"

    response = client.post("/api/v1/sentiment", json=REVIEW)

    assert response.status_code == 200, response.text
    assert model_service.predict_calls == 2
    assert metric(client, 'model_service_errors_total{reason="unavailable",version="stable"}') == 0


def test_a_keep_alive_connection_the_model_service_closed_is_never_a_failed_review(client, model_service, metric):
    model_service.mode = "hang_up_after"

    answers = [client.post("/api/v1/sentiment", json=REVIEW) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [200, 200, 200], [answer.text for answer in answers]
    assert metric(client, 'model_service_errors_total{reason="unavailable",version="stable"}') == 0


def test_a_connection_dropped_again_on_the_retry_is_a_503(client, model_service):
    model_service.mode = "drop"

    response = client.post("/api/v1/sentiment", json=REVIEW)

    assert response.status_code == 503, response.text
    assert model_service.predict_calls == 2


@pytest.mark.parametrize(
    ("mode", "status", "reason", "detail"),
    [
        ("error", 503, "unavailable", "the model-service answered 500: model exploded"),
        ("garbage", 502, "bad_response", "unexpected answer from the model-service: label Input should be"),
    ],
)
def test_a_failing_or_malformed_model_service_answer_is_a_clear_5xx(
    client, model_service, metric, mode, status, reason, detail
):
    model_service.mode = mode

    response = client.post("/api/v1/sentiment", json=REVIEW)

    assert response.status_code == status, response.text
    assert response.json()["detail"].startswith(detail)
    assert metric(client, f'model_service_errors_total{{reason="{reason}",version="stable"}}') == 1
