"""The HTTP API, in process: contract, validation and operations endpoints."""

import pytest
from fastapi.testclient import TestClient
from model_service.app import create_app
from model_service.schemas import MAX_BATCH_SIZE, MAX_REVIEW_CHARS
from model_service.settings import Settings
from support.waiting import wait_until


def settings_for(release, tmp_path, **overrides) -> Settings:
    values = {
        "model_version": release.version,
        "model_sha256": release.manifest.sha256,
        "model_url_template": f"file://{release.folder}/{{version}}/{{asset}}",
        "model_cache_dir": tmp_path / "cache",
        **overrides,
    }
    return Settings(**values)


def wait_ready(client: TestClient) -> None:
    wait_until(
        lambda: client.get("/readyz"),
        lambda response: response.status_code == 200,
        what="the model loaded",
        interval=0.02,
        describe=lambda response: response.json(),
    )


@pytest.fixture
def client(release, tmp_path):
    with TestClient(create_app(settings_for(release, tmp_path, app_version="canary"))) as client:
        wait_ready(client)
        yield client


def test_predict_returns_label_confidence_and_both_versions(client, release):
    response = client.post("/v1/predict", json={"review": "The soup was delicious. The staff was friendly."})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["label"] == "positive"
    assert 0.5 <= body["confidence"] <= 1.0
    assert body["model_version"] == release.version
    assert body["app_version"] == "canary"
    assert response.headers["x-served-by"] == "model-service/canary"


def test_batch_predictions_keep_the_order_of_the_reviews(client):
    reviews = ["The steak was awful. Never again.", "The pizza was wonderful. We will come back."]

    response = client.post("/v1/predict/batch", json={"reviews": reviews})

    assert response.status_code == 200, response.text
    assert [p["label"] for p in response.json()["predictions"]] == ["negative", "positive"]


def test_a_review_in_words_and_letters_the_model_never_saw_still_gets_a_verdict(client):
    response = client.post("/v1/predict", json={"review": "ᚠᚢᚦ ᚨᚱᚲ"})

    assert response.status_code == 200, response.text
    assert response.json()["label"] in {"negative", "positive"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/predict", {"review": ""}),
        ("/v1/predict", {"review": "   \n\t"}),
        ("/v1/predict", {"review": 42}),
        ("/v1/predict", {"review": None}),
        ("/v1/predict", {"text": "wrong field"}),
        ("/v1/predict", {"review": "x" * (MAX_REVIEW_CHARS + 1)}),
        ("/v1/predict/batch", {"reviews": []}),
        ("/v1/predict/batch", {"reviews": ["fine"] * (MAX_BATCH_SIZE + 1)}),
        ("/v1/predict/batch", {"reviews": "not a list"}),
    ],
)
def test_bad_input_is_a_422_that_says_what_is_wrong(client, path, body):
    response = client.post(path, json=body)

    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"]


@pytest.mark.parametrize("body", [b'{"review": ', b'{"reviews": [1e999]}', b'{"review": "a\\ud800b"}'])
def test_a_body_that_is_not_rfc_8259_json_is_a_422_before_any_prediction(client, body):
    response = client.post("/v1/predict", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["type"] == "json_invalid"  # the kit's reader: libs/service-kit/tests
    assert 'model_predictions_total{label="positive",version="canary"} 0.0' in client.get("/metrics").text


def test_a_batch_over_max_request_bytes_is_a_413(release, tmp_path):
    with TestClient(create_app(settings_for(release, tmp_path, max_request_bytes=2048))) as client:
        wait_ready(client)
        refused = client.post("/v1/predict/batch", json={"reviews": ["x" * 1000] * 3})

        assert (refused.status_code, refused.json()) == (413, {"detail": "request body too large: at most 2048 bytes"})
        assert client.post("/v1/predict/batch", json={"reviews": ["x" * 1000]}).status_code == 200


def test_version_names_the_model_and_its_measured_accuracy(client, release):
    body = client.get("/version").json()

    assert body["model_sha256"] == release.manifest.sha256
    assert body["evaluation"]["accuracy_mean"] == release.manifest.evaluation.accuracy_mean
    assert body["app_version"] == "canary"
    assert body["inference_path"] == "compiled"


def test_metrics_are_split_by_version_and_name_the_model(client, release):
    client.post("/v1/predict", json={"review": "The sushi was stale."})

    text = client.get("/metrics").text

    model_labels = f'model_sha256="{release.manifest.sha256}",model_version="{release.version}",version="canary"'
    assert f"model_info{{{model_labels}}} 1.0" in text
    assert 'model_predictions_total{label="negative",version="canary"} 1.0' in text
    assert 'model_predictions_total{label="positive",version="canary"} 0.0' in text
    assert 'http_requests_total{method="POST",route="/v1/predict",status="200",version="canary"} 1.0' in text
    assert 'model_ready{version="canary"} 1.0' in text
    assert 'app_info{release="1.0.0",version="canary"} 1.0' in text
    # Buckets 10% apart around the compiled model's half a millisecond
    assert 'model_inference_seconds_bucket{le="0.000509",version="canary"}' in text


def test_without_its_model_the_service_is_alive_but_not_ready_and_says_why(release, tmp_path):
    settings = settings_for(release, tmp_path, model_version="v9.9.9", model_download_attempts=1)
    with TestClient(create_app(settings)) as client:
        wait_until(
            lambda: client.get("/readyz").json()["detail"],
            lambda detail: "v9.9.9/model.json" in detail,
            what="/readyz to say which file is missing",
            interval=0.02,
        )

        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        predict = client.post("/v1/predict", json={"review": "Great!"})
        assert predict.status_code == 503
        assert predict.json()["detail"].startswith("model not loaded: cannot fetch model v9.9.9")
