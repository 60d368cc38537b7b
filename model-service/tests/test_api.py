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


def test_malformed_json_is_a_422(client):
    response = client.post("/v1/predict", content=b'{"review": ', headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert "JSON" in response.json()["detail"][0]["msg"]


# Bodies Python's json module reads although RFC 8259 does not allow them, or refuses with a vague 400: each used
# to be a 500 (the 422 could not write NaN or infinity back as JSON) or a 400 "There was an error parsing the body".
NOT_RFC_8259_JSON = {
    "NaN": (b'{"review": NaN}', 11, "unexpected character"),
    "Infinity": (b'{"review": Infinity}', 11, "unexpected character"),
    "-Infinity": (b'{"reviews": [-Infinity]}', 14, "no digit after sign"),
    "NaN where no field is read": (b'{"review": "Nice.", "reviews": ["Nice."], "x": NaN}', 47, "unexpected character"),
    "1e999": (b'{"reviews": [1e999]}', 13, "infinity"),
    "an integer of 4301 digits": (b'{"review": ' + b"9" * 4301 + b"}", 11, "infinity"),
    "a lone surrogate": (b'{"review": "a\\ud800b"}', 13, "surrogate"),
    "not UTF-8": (b'{"review": "caf\xc3\xa9 \xe9"}', 17, "not UTF-8"),
    "UTF-16": ('{"review": "Nice."}'.encode("utf-16"), 0, "not UTF-8"),
    "nested 1025 deep": (b"[" * 1025 + b"]" * 1025, 1025, "depth"),
}


@pytest.mark.parametrize("path", ["/v1/predict", "/v1/predict/batch"])
@pytest.mark.parametrize("name", NOT_RFC_8259_JSON)
def test_a_body_that_is_not_rfc_8259_json_is_a_422_saying_why_and_where(client, path, name):
    body, position, reason = NOT_RFC_8259_JSON[name]

    response = client.post(path, content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert (problem["type"], problem["loc"]) == ("json_invalid", ["body", position])
    assert reason in problem["ctx"]["error"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'\xff\xfe{"review": "x"}'),  # read as bytes, which are not UTF-8: used to be a 500
        ("application/json", b'{"review": ' + b"[" * 1000 + b"]" * 1000 + b"}"),  # too deep to echo: used to be a 500
    ],
    ids=["bytes-not-utf8", "nested-1000-deep"],
)
def test_an_input_too_odd_to_echo_is_a_422_without_it(client, content_type, body):
    response = client.post("/v1/predict", content=body, headers={"content-type": content_type})

    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["msg"].startswith("Input should be a valid")
    assert "input" not in problem


def test_a_body_over_the_byte_limit_is_refused_with_413_before_it_is_parsed(release, tmp_path):
    settings = settings_for(release, tmp_path, max_request_bytes=2048)
    with TestClient(create_app(settings)) as client:
        wait_ready(client)
        declared = client.post("/v1/predict/batch", json={"reviews": ["x" * 1000] * 3})
        streamed = client.post(
            "/v1/predict",
            content=(b"x" * 1024 for _ in range(3)),  # chunked: no Content-Length to trust
            headers={"content-type": "application/json"},
        )

        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["detail"] == "request body too large: at most 2048 bytes"
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
