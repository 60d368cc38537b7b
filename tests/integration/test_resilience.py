"""Crashes, restarts and a model-service that is down or hangs: nothing lost, clear 503s, no hang."""

import signal
import time

import httpx
import pytest
from support.services import EXPORT_KEY, app_service_env, metric, model_service_env
from support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_reviews_and_corrections_survive_a_crash_of_the_app_service(processes, release, tmp_path):
    # Given reviews, one corrected and one awaiting feedback
    model = processes.start("model_service", **model_service_env(release, tmp_path / "cache"))
    env = app_service_env(model, tmp_path / "reviews.db")
    app = processes.start("app_service", **env)
    corrected = httpx.post(f"{app.url}/api/v1/sentiment", json={"review": "The steak was awful."}).json()
    waiting = httpx.post(f"{app.url}/api/v1/sentiment", json={"review": "The pizza was wonderful."}).json()
    correction = "positive" if corrected["label"] == "negative" else "negative"
    assert httpx.post(f"{app.url}/api/v1/reviews/{corrected['id']}/feedback", json={"label": correction}).is_success

    # When the process is killed without a chance to clean up, and started again on the same database
    app.stop(signal.SIGKILL)
    restarted = processes.start("app_service", **env)

    # Then nothing is lost: the correction holds, and the other review still takes its feedback
    again = httpx.post(f"{restarted.url}/api/v1/reviews/{corrected['id']}/feedback", json={"label": correction})
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "corrected"
    assert metric(restarted, 'reviews_awaiting_feedback{version="stable"}') == 1
    late = httpx.post(f"{restarted.url}/api/v1/reviews/{waiting['id']}/feedback", json={"label": waiting["label"]})
    assert late.status_code == 200, late.text
    export = httpx.get(f"{restarted.url}/api/v1/reviews/export", headers={"X-API-Key": EXPORT_KEY}).text
    liked = {"positive": "1", "negative": "0"}
    assert export.splitlines()[1:] == [
        f"The steak was awful.\t{liked[correction]}",
        f"The pizza was wonderful.\t{liked[waiting['label']]}",
    ]


def test_model_service_down_gives_503_within_the_timeout(stack):
    # Given a working stack whose model-service then stops
    assert httpx.post(f"{stack.app.url}/api/v1/sentiment", json={"review": "Nice."}).status_code == 200
    stack.model.stop()

    # When a review comes in
    started = time.monotonic()
    response = httpx.post(f"{stack.app.url}/api/v1/sentiment", json={"review": "Nice."}, timeout=10)
    elapsed = time.monotonic() - started

    # Then the answer is a clear 503 at once, and the app-service stays ready, saying why
    assert response.status_code == 503, response.text
    assert response.json()["detail"].startswith("cannot reach the model-service")
    assert elapsed < 1.0, elapsed
    ready = httpx.get(f"{stack.app.url}/readyz")
    assert ready.status_code == 200
    assert ready.json()["model_service"].startswith("unreachable")


def test_a_hanging_model_service_gives_503_within_the_timeout(stack):
    # Given a model-service that accepts connections but never answers (frozen)
    stack.model.send_signal(signal.SIGSTOP)
    try:
        wait_until(stack.model.run_state, lambda state: state == "T", what="the model-service stopped by SIGSTOP")
        started = time.monotonic()
        response = httpx.post(f"{stack.app.url}/api/v1/sentiment", json={"review": "Nice."}, timeout=10)
        elapsed = time.monotonic() - started
    finally:
        stack.model.send_signal(signal.SIGCONT)

    # Then the answer is a 503 once the 1 s read timeout is over: no hang, no retry
    assert response.status_code == 503, response.text
    assert response.json()["detail"].startswith("the model-service did not answer in time")
    assert 1.0 <= elapsed < 2.0, elapsed
