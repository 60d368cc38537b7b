"""Versions, probes, metrics, CORS and the version header: what operators and the mesh rely on."""

import time

import pytest

REVIEW = {"review": "The pizza was wonderful."}


def test_version_names_this_service_and_the_model_service_behind_it(client):
    response = client.get("/api/v1/version")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == "app-service"
    assert body["app_version"] == "stable"
    assert body["release"] == "1.0.0"
    assert body["model_service"] == {
        "release": "1.0.0", "app_version": "canary", "model_version": "v9.9.9", "model_sha256": "ab" * 32,
    }  # fmt: skip


def test_version_still_answers_when_the_model_service_is_down(make_client, nothing_listening_url):
    client = make_client(model_service_url=nothing_listening_url)

    body = client.get("/api/v1/version").json()

    assert body["app_version"] == "stable"
    assert body["model_service"] is None
    assert body["model_service_problem"].startswith("cannot reach the model-service")


def test_ready_when_the_store_answers_reporting_the_model_service_without_failing_on_it(
    client, make_client, model_service, nothing_listening_url
):
    ready = client.get("/readyz")
    model_service.mode = "error"
    model_not_ready = client.get("/readyz")
    model_service_down = make_client(model_service_url=nothing_listening_url).get("/readyz")

    assert ready.status_code == model_not_ready.status_code == model_service_down.status_code == 200
    assert ready.json()["model_service"] == "ready"
    assert model_not_ready.json()["model_service"] == "not ready: model not loaded"
    assert model_service_down.json()["model_service"].startswith("unreachable: cannot reach the model-service")
    assert client.get("/healthz").json() == {"status": "ok", "detail": ""}


def test_ready_within_the_probe_timeout_when_the_model_service_is_slow_to_say_it_is_ready(make_client, model_service):
    # Given a model-service that takes 2 s to answer its /readyz, and the app-service's predictions allowed 2 s
    model_service.mode = "slow"
    client = make_client(model_service_timeout_seconds=2.0, model_service_readiness_timeout_seconds=0.2)

    # When the kubelet asks the app-service's /readyz
    started = time.monotonic()
    answer = client.get("/readyz")
    elapsed = time.monotonic() - started

    # Then it is ready, says the model-service is slow, and answers within the kubelet's default probe timeout (1 s)
    assert answer.status_code == 200, answer.text
    assert answer.json()["model_service"] == "unreachable: the model-service did not answer /readyz within 0.2 s"
    assert elapsed < 1.0, f"/readyz took {elapsed:.2f} s: the kubelet would have marked the pod NotReady"


def test_every_experiment_metric_starts_at_zero_split_by_version(make_client):
    text = make_client(app_version="canary").get("/metrics").text

    for sample in (
        'reviews_submitted_total{version="canary"} 0.0',
        'predictions_total{label="negative",version="canary"} 0.0',
        'predictions_total{label="positive",version="canary"} 0.0',
        'user_feedback_total{outcome="confirmed",version="canary"} 0.0',
        'user_feedback_total{outcome="corrected",version="canary"} 0.0',
        'user_corrections_total{corrected_label="positive",original_label="negative",version="canary"} 0.0',
        'user_corrections_total{corrected_label="negative",original_label="positive",version="canary"} 0.0',
        'reviews_awaiting_feedback{version="canary"} 0.0',
        'model_service_errors_total{reason="unavailable",version="canary"} 0.0',
        'model_service_errors_total{reason="timeout",version="canary"} 0.0',
        'model_service_errors_total{reason="bad_response",version="canary"} 0.0',
        'prediction_latency_seconds_count{version="canary"} 0.0',
        # The visitor-level analysis: how each stored review named its visitor, and the per-visitor sums
        'reviews_by_header_visitor_id_total{header_visitor_id="valid",version="canary"} 0.0',
        'reviews_by_header_visitor_id_total{header_visitor_id="absent",version="canary"} 0.0',
        'reviews_by_header_visitor_id_total{header_visitor_id="invalid",version="canary"} 0.0',
        'experiment_visitors_total{version="canary"} 0.0',
        'experiment_visitor_reviews_squared_total{version="canary"} 0.0',
        'experiment_visitor_feedback_squared_total{version="canary"} 0.0',
        'experiment_visitor_corrections_squared_total{version="canary"} 0.0',
        'experiment_visitor_reviews_feedback_total{version="canary"} 0.0',
        'experiment_visitor_reviews_corrections_total{version="canary"} 0.0',
        'experiment_visitor_feedback_corrections_total{version="canary"} 0.0',
        'app_info{release="1.0.0",version="canary"} 1.0',
        # The experiment's error ratio counts an API route's requests from the first one
        'http_requests_total{method="POST",route="/api/v1/sentiment",status="200",version="canary"} 0.0',
        'http_requests_total{method="POST",route="/api/v1/sentiment",status="503",version="canary"} 0.0',
        'http_requests_total{method="GET",route="/api/v1/version",status="200",version="canary"} 0.0',
    ):
        assert sample in text, sample


def test_a_prediction_is_counted_timed_and_recorded_in_red_metrics(client, metric):
    client.post("/api/v1/sentiment", json=REVIEW)

    assert metric(client, 'reviews_submitted_total{version="stable"}') == 1
    assert metric(client, 'predictions_total{label="positive",version="stable"}') == 1
    assert metric(client, 'reviews_awaiting_feedback{version="stable"}') == 1
    assert metric(client, 'prediction_latency_seconds_count{version="stable"}') == 1
    # Buckets 5% apart where a prediction's p95 lives, so a 5% difference between the arms shows
    assert 'prediction_latency_seconds_bucket{le="0.00502",version="stable"}' in client.get("/metrics").text
    route = 'method="POST",route="/api/v1/sentiment"'
    assert metric(client, f'http_requests_total{{{route},status="200",version="stable"}}') == 1
    assert metric(client, f'http_request_duration_seconds_count{{{route},version="stable"}}') == 1


def test_feedback_routes_are_recorded_by_template_not_by_id(client, metric):
    review_id = client.post("/api/v1/sentiment", json=REVIEW).json()["id"]
    client.post(f"/api/v1/reviews/{review_id}/feedback", json={"label": "positive"})

    text = client.get("/metrics").text

    assert 'route="/api/v1/reviews/{review_id}/feedback"' in text
    assert review_id not in text


@pytest.mark.parametrize(
    ("header", "counted_as"),
    [("canary", "canary"), ("stable", "stable"), (None, "absent"), ("canaryX", "invalid"), ("<script>", "invalid")],
)
def test_the_version_header_is_counted_only_as_an_arm_and_never_reflected(client, metric, header, counted_as):
    headers = {"X-App-Version": header} if header else {}

    response = client.post("/api/v1/sentiment", json=REVIEW, headers=headers)

    assert response.status_code == 200
    assert metric(client, f'requests_by_header_version_total{{header_version="{counted_as}",version="stable"}}') == 1
    if counted_as == "invalid":
        assert header not in client.get("/metrics").text
        assert header not in response.text
        assert header not in str(response.headers)


def test_a_cors_preflight_from_the_frontend_allows_the_version_and_visitor_headers(client):
    response = client.options(
        "/api/v1/sentiment",
        headers={
            "Origin": "http://frontend.test:8301",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-app-version,x-visitor-id",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "http://frontend.test:8301"
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "x-app-version" in allowed
    assert "x-visitor-id" in allowed
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["x-served-by"] == "app-service/stable"


def test_other_origins_are_not_allowed(client):
    preflight = client.options(
        "/api/v1/sentiment",
        headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
    )
    simple = client.post("/api/v1/sentiment", json=REVIEW, headers={"Origin": "https://evil.test"})

    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in simple.headers


def test_answers_to_the_frontend_expose_which_version_served_them(client):
    response = client.post("/api/v1/sentiment", json=REVIEW, headers={"Origin": "http://frontend.test:8301"})

    assert response.headers["access-control-allow-origin"] == "http://frontend.test:8301"
    assert response.headers["access-control-expose-headers"].lower() == "x-served-by"
