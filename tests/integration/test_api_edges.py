"""The API's edges over real HTTP, on both arms: bad input, CORS, the feature flag and the version header."""

import httpx
import pytest
from sentiment_devtools.system import ARMS
from support.services import metric

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/api/v1/sentiment", {"review": ""}, 422),
        ("POST", "/api/v1/sentiment", {"review": "x" * 5001}, 422),
        ("POST", "/api/v1/sentiment", {"review": "x" * 70_000}, 413),
        ("POST", "/api/v1/sentiment", {"no": "review"}, 422),
        ("POST", "/api/v1/reviews/unknown-id/feedback", {"label": "positive"}, 404),
        ("POST", "/api/v1/reviews/unknown-id/feedback", {"label": "great"}, 422),
        ("GET", "/api/v1/sentiment", None, 405),
        ("GET", "/api/v1/reviews/export", None, 401),
    ],
)
def test_bad_inputs_are_4xx_with_a_message(shared_stacks, method, path, body, status):
    app = shared_stacks["stable"].app

    response = httpx.request(method, f"{app.url}{path}", json=body)

    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert 'status="500"' not in httpx.get(f"{app.url}/metrics").text


@pytest.mark.parametrize("arm", ARMS)
def test_a_cors_preflight_from_the_frontend_is_answered_by_both_versions(shared_stacks, arm):
    # A preflight carries no X-App-Version, so the mesh may send it to either arm.
    origin = shared_stacks["stable"].origin

    response = httpx.options(
        f"{shared_stacks[arm].app.url}/api/v1/sentiment",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-app-version",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == origin
    assert "x-app-version" in response.headers["access-control-allow-headers"].lower()
    assert response.headers["x-served-by"] == f"app-service/{arm}"


@pytest.mark.parametrize("arm", ARMS)
def test_only_the_canary_shows_the_confidence_on_its_page_and_in_its_answers(shared_stacks, arm):
    stack = shared_stacks[arm]

    page = httpx.get(stack.frontend.url).text
    answer = httpx.post(f"{stack.app.url}/api/v1/sentiment", json={"review": "Lovely soup."}).json()

    assert f'data-show-confidence="{"true" if arm == "canary" else "false"}"' in page
    assert (answer["confidence"] is not None) == (arm == "canary")
    assert answer["versions"]["app_service"] == answer["versions"]["model_service"] == arm


def test_the_version_header_is_echoed_in_the_version_metrics(shared_stacks):
    app = shared_stacks["stable"].app
    sample = 'requests_by_header_version_total{{header_version="{}",version="stable"}}'
    before = {value: metric(app, sample.format(value)) for value in ("canary", "invalid")}

    httpx.post(f"{app.url}/api/v1/sentiment", json={"review": "Nice."}, headers={"X-App-Version": "canary"})
    httpx.post(f"{app.url}/api/v1/sentiment", json={"review": "Nice."}, headers={"X-App-Version": 'evil"}'})

    assert metric(app, sample.format("canary")) == before["canary"] + 1
    assert metric(app, sample.format("invalid")) == before["invalid"] + 1
    assert "evil" not in httpx.get(f"{app.url}/metrics").text
