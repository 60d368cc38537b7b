"""Every request body, whatever its bytes, against the real processes: a 2xx, or a 4xx with a JSON detail; never a
5xx, never a hang. Beyond test_hostile_input.py's schema-driven fuzz, the bodies come from the JSON grammar and from
bytes (tests/support/bodies.py): JSON the schema refuses, JSON only Python's parser reads, truncated JSON, JSON
just over the byte limit, random bytes, UTF-8 text and text that is not UTF-8, under odd Content-Types, sent to
every route of the three services, those that take no body too. Each class also says which answer it must get
(docs/architecture.md#request-bodies), and each service's own http_requests_total must count no 5xx afterwards.

Figures for docs/reliability.md: `.venv/bin/pytest tests/integration/test_body_fuzz.py -s` prints them.
"""

import collections
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import hypothesis
import pytest
from app_service.settings import Settings as AppServiceSettings
from hypothesis import strategies as st
from model_service.settings import Settings as ModelServiceSettings
from support import bodies
from support.raw_http import Answer, send
from support.services import ServiceProcess, Stack, server_errors

pytestmark = pytest.mark.slow

# The same examples on every run, a fixed number of them: derandomized, no example database.
EXAMPLES = hypothesis.settings(
    max_examples=50, derandomize=True, database=None, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
BODY_LIMITS = {  # MAX_REQUEST_BYTES, which the test processes leave at its default
    "model_service": ModelServiceSettings.model_fields["max_request_bytes"].default,
    "app_service": AppServiceSettings.model_fields["max_request_bytes"].default,
    "app_frontend": None,  # it reads no body
}
SOME_ID = "A" * 22  # no such review: its feedback is a 404 once the body is read
# FastAPI's own pages, which the OpenAPI schema does not list.
FASTAPI_PAGES = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
# What each class of bodies sent where: service -> class -> status -> count, printed at the end of each test.
SENT: collections.defaultdict = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
SERVER_ERRORS_BEFORE: dict[str, int] = {}


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    field: str | None  # the body's one field, for a route that takes a JSON body


def routes_of(service: ServiceProcess) -> list[Route]:
    """Every operation in the service's own OpenAPI schema, its path filled in, and FastAPI's pages."""
    schema = httpx.get(f"{service.url}/openapi.json").json()
    routes = [Route("GET", page, None) for page in FASTAPI_PAGES]
    for template, operations in schema["paths"].items():
        path = template.replace("{review_id}", SOME_ID).replace("{name}", "app.js")
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            fields = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["required"] if body else [None]
            (field,) = fields  # every body of these APIs is an object of one required field
            routes.append(Route(method.upper(), path, field))
    return routes


def body_routes(service: ServiceProcess) -> list[Route]:
    routes = [route for route in routes_of(service) if route.field]
    assert routes, f"{service.package} has no route that takes a body"
    return routes


def fuzz(
    service: ServiceProcess,
    route: Route,
    kind: str,
    strategy: st.SearchStrategy,
    check: Callable[[bytes, Answer], None],
    examples: int | None = None,
) -> None:
    """Send each example of `strategy` (a body, or a (body, content type, chunked) triple) to `route`; every
    answer must be a 2xx or a 4xx with a JSON detail, and pass `check`: a 413 instead where the service has a body
    limit and the body is over it, whatever the route."""
    limit = BODY_LIMITS[service.package]

    @hypothesis.given(example=strategy)
    @hypothesis.settings(EXAMPLES, max_examples=examples or EXAMPLES.max_examples)
    def send_one(example: bytes | tuple) -> None:
        body, content_type, chunked = example if isinstance(example, tuple) else (example, b"application/json", False)
        answer = send(service.port, route.method, route.path, body, content_type, chunked=chunked)
        shown = f"{route.method} {route.path} {content_type!r} {len(body)} bytes: {body[:200]!r}"
        assert 200 <= answer.status < 300 or 400 <= answer.status < 500, f"{answer.status} for {shown}: {answer.body!r}"
        if answer.status >= 400:
            answer.detail()
        if limit is not None and len(body) > limit:
            assert answer.status == 413, f"{answer.status} for {shown}, over the limit of {limit} bytes"
        else:
            check(body, answer)
        SENT[service.package][kind][answer.status] += 1

    send_one()


def stable(shared_stacks: dict[str, Stack], name: str) -> ServiceProcess:
    """The stable arm's model, app or frontend, and the 5xx it has counted so far, for report()."""
    service = getattr(shared_stacks["stable"], name)
    SERVER_ERRORS_BEFORE[service.package] = server_errors(service)
    return service


def report(service: ServiceProcess) -> None:
    """Print what this test sent the service, and check that the service counted no 5xx meanwhile."""
    for kind, statuses in SENT.pop(service.package, {}).items():
        print(f"\n{service.package} {kind}: {statuses.total()} bodies, by status {dict(sorted(statuses.items()))}")
    counted = server_errors(service) - SERVER_ERRORS_BEFORE[service.package]
    assert counted == 0, f"{service.package} counted {counted} 5xx; its log ends:\n{service.log()[-3_000:]}"


def refused_as(kind: str) -> Callable[[bytes, Answer], None]:
    """The check that a body is a 422 whose problems all have this type ("json_invalid"), or any ("*")."""

    def check(body: bytes, answer: Answer) -> None:
        assert answer.status == 422, f"{answer.status} for {body[:200]!r}: {answer.body[:300]!r}"
        problems = answer.detail()
        assert all(problem["msg"] and problem["loc"][0] == "body" for problem in problems), problems
        if kind != "*":
            assert [problem["type"] for problem in problems] == [kind], problems

    return check


def answered(body: bytes, answer: Answer) -> None:
    """Nothing more than fuzz() checks of every answer: a 2xx, or a 4xx with a JSON detail."""


def read(body: bytes, answer: Answer) -> None:
    """The body was read and its field taken: the route answered (a 404 for feedback on no review)."""
    assert answer.status in (200, 404), f"{answer.status} for {body[:200]!r}: {answer.body[:300]!r}"


JSON_SERVICES = ["model", "app"]


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_json_the_schema_refuses_is_a_422_naming_each_problem(shared_stacks, name):
    service = stable(shared_stacks, name)
    limit = BODY_LIMITS[service.package]
    for route in body_routes(service):
        strategy = bodies.refused_by_the_schema(route.field, limit)
        fuzz(service, route, "refused by the schema", strategy, refused_as("*"))
    report(service)


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_json_only_python_reads_is_a_422_json_invalid_wherever_it_is(shared_stacks, name):
    service = stable(shared_stacks, name)
    for route in body_routes(service):
        fuzz(service, route, "only Python reads", bodies.only_python_reads(route.field), refused_as("json_invalid"))
    report(service)


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_a_duplicate_key_keeps_its_last_value(shared_stacks, name):
    service = stable(shared_stacks, name)
    for route in body_routes(service):
        valid, refused = bodies.VALID[route.field], bodies.REFUSED[route.field]
        last_valid = bodies.duplicated(route.field, refused, valid)
        last_refused = bodies.duplicated(route.field, valid, refused)
        fuzz(service, route, "duplicate key, the last valid", last_valid, read, examples=15)
        fuzz(service, route, "duplicate key, the last refused", last_refused, refused_as("*"), examples=15)
    report(service)


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_truncated_json_is_a_422(shared_stacks, name):
    service = stable(shared_stacks, name)
    for route in body_routes(service):
        fuzz(service, route, "truncated", bodies.truncated(route.field), refused_as("*"))
    report(service)


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_json_one_byte_over_the_limit_or_more_is_a_413_and_at_the_limit_it_is_read(shared_stacks, name):
    service = stable(shared_stacks, name)
    limit = BODY_LIMITS[service.package]
    for route in body_routes(service):
        # A review padded with blanks after its object (JSON allows them) to a size around the limit.
        sizes = st.integers(limit - 2, limit + 64)
        padded = st.builds(padded_to, bodies.valid_body(route.field), sizes)
        strategy = st.tuples(padded, st.just(b"application/json"), st.booleans())
        fuzz(service, route, "around the byte limit", strategy, read, examples=12)
    report(service)


def padded_to(body: bytes, size: int) -> bytes:
    return body + b" " * (size - len(body))


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_random_bytes_and_text_are_a_422_and_bytes_not_utf8_are_named(shared_stacks, name):
    service = stable(shared_stacks, name)
    for route in body_routes(service):
        fuzz(service, route, "random bytes", bodies.RANDOM_BYTES, refused_as("*"))
        fuzz(service, route, "UTF-8 text", bodies.UTF8_TEXT, refused_as("*"))
        fuzz(service, route, "a string not UTF-8", bodies.a_string_not_utf8(route.field), not_utf8)
    report(service)


def not_utf8(body: bytes, answer: Answer) -> None:
    refused_as("json_invalid")(body, answer)
    assert "not UTF-8" in answer.detail()[0]["ctx"]["error"], answer.body


@pytest.mark.parametrize("name", JSON_SERVICES)
def test_a_body_is_read_as_json_only_under_a_json_content_type(shared_stacks, name):
    service = stable(shared_stacks, name)
    for route in body_routes(service):
        valid = bodies.valid_body(route.field)
        as_json = st.tuples(valid, st.sampled_from(bodies.JSON_CONTENT_TYPES), st.booleans())
        not_as_json = st.tuples(valid, st.sampled_from(bodies.NOT_JSON_CONTENT_TYPES), st.booleans())
        odd = st.tuples(
            st.one_of(valid, bodies.only_python_reads(route.field), bodies.RANDOM_BYTES),
            bodies.ODD_CONTENT_TYPES,
            st.booleans(),
        )
        fuzz(service, route, "a JSON content type", as_json, read, examples=20)
        fuzz(service, route, "another content type", not_as_json, refused_as("*"), examples=20)
        fuzz(service, route, "odd content types", odd, answered)
    report(service)


@pytest.mark.parametrize("name", ["model", "app", "frontend"])
def test_a_body_sent_where_none_is_taken_changes_nothing(shared_stacks, name):
    # Given every route of the service, and the answer each gives without a body
    service = stable(shared_stacks, name)
    any_body = st.one_of(
        bodies.RANDOM_BYTES,
        bodies.UTF8_TEXT,
        bodies.only_python_reads("review"),
        bodies.truncated("review"),
        st.integers(65_536, 70_000).map(lambda size: b"x" * size),
    )
    for route in routes_of(service):
        methods = ["GET", "POST", "PUT", "DELETE"] if route.field is None else ["GET", "PUT"]
        for method in methods:
            without_body = send(service.port, method, route.path, b"", None)
            # When a body is sent to it with a method that takes none, or that the route does not answer
            unread = Route(method, route.path, None)
            strategy = st.tuples(any_body, bodies.ODD_CONTENT_TYPES, st.booleans())
            # Then the answer is the same, or a 413 where the body is too large to be accepted at all
            fuzz(service, unread, "where no body is taken", strategy, same_as(without_body), examples=6)
    report(service)


def same_as(without_body: Answer) -> Callable[[bytes, Answer], None]:
    def check(body: bytes, answer: Answer) -> None:
        assert answer.status == without_body.status, f"{answer.status}, without a body {without_body.status}"

    return check
