"""What every service built with service_app answers alike."""

from fastapi import APIRouter
from fastapi.middleware.cors import CORSMiddleware
from service_kit.body_limit import BodySizeLimitMiddleware
from service_kit.metrics import RequestMetricsMiddleware, ServiceMetrics
from service_kit.served_by import ServedByMiddleware


def test_the_middlewares_run_served_by_then_metrics_then_cors_then_the_body_limit(make_app):
    order = [middleware.cls for middleware in make_app().user_middleware]

    assert order == [ServedByMiddleware, RequestMetricsMiddleware, CORSMiddleware, BodySizeLimitMiddleware]


def test_every_answer_names_the_service_and_the_arm_that_gave_it(make_client):
    client = make_client(app_version="canary")

    for response in (client.get("/healthz"), client.get("/nothing-here"), client.post("/reviews", json={})):
        assert response.headers["x-served-by"] == "demo-service/canary"


def test_readiness_is_the_services_own_and_503_until_it_is_ready(client):
    not_ready = client.get("/readyz")

    assert (not_ready.status_code, not_ready.json()) == (503, {"status": "not ready", "detail": "not yet"})
    assert client.get("/healthz").json() == {"status": "ok", "detail": ""}


def test_every_request_gets_the_one_state_the_lifespan_yielded(client):
    before = client.post("/reviews", json={"review": "Nice."}).json()

    client.app_state["service_state"].ready = True  # TestClient keeps the lifespan's state here

    assert before == {"review": "Nice.", "ready": False}
    assert client.post("/reviews", json={"review": "Nice."}).json() == {"review": "Nice.", "ready": True}
    assert client.get("/readyz").json() == {"status": "ready", "detail": ""}


def test_a_domain_error_gets_the_answer_its_handler_gives_with_cors_and_metrics(client, origin):
    response = client.post("/reviews", json={"review": "refuse"}, headers={"Origin": origin})

    assert (response.status_code, response.json()) == (409, {"detail": "refused by the domain"})
    assert response.headers["access-control-allow-origin"] == origin
    metrics = client.get("/metrics").text
    assert 'http_requests_total{method="POST",route="/reviews",status="409",version="stable"} 1.0' in metrics


def test_metrics_name_the_release_and_count_requests_by_route_template(client):
    client.get("/healthz")

    text = client.get("/metrics").text

    assert 'app_info{release="9.9.9",version="stable"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/healthz",status="200",version="stable"} 1.0' in text
    assert 'http_request_duration_seconds_count{method="GET",route="/healthz",version="stable"} 1.0' in text


def test_request_counters_may_start_at_zero_before_the_first_request():
    router = APIRouter(prefix="/api")

    @router.post("/reviews")
    async def post_review() -> None: ...

    metrics = ServiceMetrics("demo-service", "canary", "9.9.9")
    metrics.start_requests_at_zero(router.routes, ("200", "503"))

    for status in ("200", "503"):
        labels = {"version": "canary", "route": "/api/reviews", "method": "POST", "status": status}
        assert metrics.registry.get_sample_value("http_requests_total", labels) == 0.0
