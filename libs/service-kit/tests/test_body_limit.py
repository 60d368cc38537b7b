"""The 413: refused before the body is read, declared or streamed, as JSON naming the limit, CORS headers kept."""

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.testclient import TestClient
from pydantic import BaseModel

ORIGIN = "http://page.test"  # the demo service's allowed origin (conftest.py)
HEADERS = {"origin": ORIGIN, "content-type": "application/json"}


class Review(BaseModel):
    review: str


def declared_and_streamed(client: TestClient) -> dict:
    return {
        "declared": client.post("/reviews", json={"review": "x" * 3000}, headers=HEADERS),
        "streamed": client.post("/reviews", content=(b"x" * 1024 for _ in range(3)), headers=HEADERS),  # chunked
    }


def test_a_body_over_the_limit_is_a_json_413_the_page_can_read_whether_or_not_it_declares_its_length(client):
    for how, response in declared_and_streamed(client).items():
        assert response.status_code == 413, how
        assert response.json() == {"detail": "request body too large: at most 2048 bytes"}, how
        assert response.headers["access-control-allow-origin"] == ORIGIN, how
        assert response.headers["x-served-by"] == "demo-service/stable", how
    assert client.post("/reviews", json={"review": "x" * 1000}).status_code == 200


def test_a_413_is_counted_by_the_red_metrics(client):
    declared_and_streamed(client)

    text = client.get("/metrics").text

    assert 'http_requests_total{method="POST",route="unmatched",status="413",version="stable"} 1.0' in text
    assert 'http_requests_total{method="POST",route="/reviews",status="413",version="stable"} 1.0' in text


def fastapi_limited(level: str) -> TestClient:
    router = APIRouter(max_body_size=2048) if level == "router" else APIRouter()

    @router.post("/reviews")
    async def post_review(body: Review) -> dict:
        return {"review": body.review}

    app = FastAPI(max_body_size=2048) if level == "app" else FastAPI()
    app.add_middleware(CORSMiddleware, allow_origins=[ORIGIN], allow_methods=["POST"])
    app.include_router(router)
    return TestClient(app)


@pytest.mark.parametrize("level", ["app", "router"])
def test_fastapis_own_limit_would_answer_a_declared_body_in_plain_text_naming_no_limit(level):
    # Why the kit keeps its middleware (body_limit.py): when this fails, FastAPI's limit may do the job.
    answers = declared_and_streamed(fastapi_limited(level))

    declared = answers["declared"]
    assert declared.status_code == 413
    assert (declared.headers["content-type"], declared.text) == ("text/plain; charset=utf-8", "Content Too Large")
    if level == "app":  # outside the app's middlewares: the page could not even read it
        assert "access-control-allow-origin" not in declared.headers
