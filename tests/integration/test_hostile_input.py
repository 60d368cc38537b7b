"""Hostile input against the real processes: every HTTP API fuzzed from its own OpenAPI schema, then what an
attacker tries by hand: huge bodies, bytes that are not UTF-8, control characters, forged version headers and
cookies, wrong export keys. No answer is a 5xx, none hangs, and only exactly `stable` or `canary` is believed.

Figures for docs/reliability.md: `.venv/bin/pytest tests/integration/test_hostile_input.py -s` prints them.
"""

import collections
import contextlib
import csv
import io
import re
import select
import socket
import time
from pathlib import Path

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from model_service.training.dataset import parse_tsv
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from sentiment_devtools.system import ARMS
from support.services import EXPORT_KEY, ServiceProcess, metric, server_errors
from support.waiting import wait_until

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT_SECONDS = 5  # every answer takes milliseconds: a request still unanswered after this hangs
# Deterministic and bounded: the same examples on every run, a few seconds per service.
PROPERTY = hypothesis.settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
JSON_ENDPOINTS = {"app": ("/api/v1/sentiment", 65_536), "model": ("/v1/predict", 8_388_608)}  # path, body limit
FIFTY_MB = 50 * 1024 * 1024


def bytes_read(process: ServiceProcess) -> int:
    """What the process has read from files and sockets so far (the kernel's rchar): the server side's count."""
    io = Path(f"/proc/{process.pid}/io").read_text()
    return int(re.search(r"^rchar: (\d+)$", io, re.M)[1])


def exchange(process: ServiceProcess, request: bytes) -> bytes:
    """Send raw bytes (what no well-behaved client library sends) and return the raw answer, body included."""
    with socket.create_connection(("127.0.0.1", process.port), timeout=REQUEST_TIMEOUT_SECONDS) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := connection.recv(65_536)):
            answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        declared = re.search(rb"(?im)^content-length: *(\d+)", head)
        while declared and len(body) < int(declared[1]) and (chunk := connection.recv(65_536)):
            body += chunk
        return head + b"\r\n\r\n" + body


def post(path: str, body: bytes, *headers: str) -> bytes:
    """A raw POST; its Content-Length is the body's unless a header says otherwise."""
    framed = any(header.lower().startswith(("content-length:", "transfer-encoding:")) for header in headers)
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json", *headers]
    lines += [] if framed else [f"Content-Length: {len(body)}"]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


@pytest.fixture(autouse=True)
def no_service_answers_a_5xx(shared_stacks):
    """After each test, whatever order they run in: no service counted a 5xx for anything sent to it so far."""
    yield
    for stack in shared_stacks.values():
        for process in (stack.model, stack.app, stack.frontend):
            assert server_errors(process) == 0, process.log()


# --- every API, fuzzed from its schema -----------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["model", "app", "frontend"])
def test_no_request_generated_from_the_schema_makes_a_service_fail_or_hang(shared_stacks, service):
    process = getattr(shared_stacks["stable"], service)
    schema = schemathesis.openapi.from_url(f"{process.url}/openapi.json")
    statuses: collections.Counter = collections.Counter()

    for result in schema.get_all_operations():
        fuzz(result.ok(), statuses)

    print(f"\nfuzzed {process.package}: {statuses.total()} requests, by status {dict(sorted(statuses.items()))}")
    assert statuses.total() > 0
    assert server_errors(process) == 0


def fuzz(operation: schemathesis.APIOperation, statuses: collections.Counter) -> None:
    """Requests that fit the operation's schema and requests that break it, each checked for a 5xx and a hang."""
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @hypothesis.given(case=cases)
    @PROPERTY
    def send(case: schemathesis.Case) -> None:
        response = case.call_and_validate(checks=[not_a_server_error], timeout=REQUEST_TIMEOUT_SECONDS)
        statuses[response.status_code] += 1

    send()


# --- bodies: too large, not UTF-8, not text ------------------------------------------------------------------------


@pytest.mark.parametrize("service", JSON_ENDPOINTS)
def test_a_50_mb_body_that_says_so_is_refused_before_a_byte_of_it_is_sent(shared_stacks, service):
    process = getattr(shared_stacks["stable"], service)
    path, limit = JSON_ENDPOINTS[service]
    started = time.monotonic()

    answer = exchange(process, post(path, b"", f"Content-Length: {FIFTY_MB}"))

    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert f"at most {limit} bytes".encode() in answer
    print(f"\n{process.package}: 413 for a declared 50 MB body after {time.monotonic() - started:.3f} s")


@pytest.mark.parametrize("service", JSON_ENDPOINTS)
def test_a_50_mb_body_streamed_without_a_length_is_cut_off_at_the_limit(shared_stacks, service):
    process = getattr(shared_stacks["stable"], service)
    path, limit = JSON_ENDPOINTS[service]
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"  # 64 KiB chunks of a chunked body

    # When a client streams a chunked body, each chunk once the service has read all that came before (counted
    # on the service's side, so that no socket buffer, megabytes of them, holds bytes it has not taken yet)
    with socket.create_connection(("127.0.0.1", process.port), timeout=REQUEST_TIMEOUT_SECONDS) as connection:
        read_before = bytes_read(process)
        head = post(path, b"", "Transfer-Encoding: chunked")
        connection.sendall(head)
        total, sent = len(head), 0

        def answered() -> bool:
            return bool(select.select([connection], [], [], 0)[0])

        # The service may hang up, or stop reading, before the answer is seen here.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError, TimeoutError):
            while sent < FIFTY_MB:
                wait_until(
                    lambda consumed=total: answered() or bytes_read(process) - read_before >= consumed,
                    what=f"{process.package} to read the {sent} bytes sent, or to answer",
                    interval=0.001,
                    context=process.log_tail,
                )
                if answered():
                    break
                connection.sendall(chunk)
                total, sent = total + len(chunk), sent + 0x10000
        answer = connection.recv(65_536)

    # Then it answered 413 once the body passed its limit: within the chunk that crossed it
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert sent <= limit + 0x10000, f"the 413 came after {sent} bytes of a body limited to {limit}"
    print(f"\n{process.package}: 413 for a streamed 50 MB body after {sent / 1e6:.2f} MB of it")


BODIES_THAT_ARE_NOT_JSON_TEXT = {
    "not UTF-8": (b'\xff\xfe{"review": "x"}', 422),
    "a Latin-1 byte in a string": (b'{"review": "caf\xe9"}', 422),
    "an overlong UTF-8 slash": (b'{"review": "\xc0\xaf"}', 422),
    "a lone surrogate": (b'{"review": "a\\ud800b"}', 422),
    "a raw escape character": (b'{"review": "a\x1b[31mb"}', 422),
    "a raw NUL": (b'{"review": "a\x00b"}', 422),
    "arrays nested 10,000 deep": (b"[" * 10_000 + b"]" * 10_000, 422),
    "a review nested 950 deep": (b'{"review": ' + b"[" * 950 + b"]" * 950 + b"}", 422),
}


@pytest.mark.parametrize("service", JSON_ENDPOINTS)
@pytest.mark.parametrize("name", BODIES_THAT_ARE_NOT_JSON_TEXT)
def test_a_body_that_is_not_json_text_is_a_4xx_with_a_reason(shared_stacks, service, name):
    process = getattr(shared_stacks["stable"], service)
    body, status = BODIES_THAT_ARE_NOT_JSON_TEXT[name]

    response = httpx.post(
        process.url + JSON_ENDPOINTS[service][0], content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert server_errors(process) == 0


def test_control_characters_and_exotic_text_are_data_stored_and_exported_verbatim(shared_stacks):
    # Given reviews whose text holds escaped control characters, bidirectional overrides, emoji and a BOM
    app = shared_stacks["stable"].app
    tricky = 'NUL\u0000 ESC\u001b[31m RLO\u202egnp.exe BOM\ufeff 😀 e\u0301 "quoted"\ttab\r\nline'
    ids = [httpx.post(f"{app.url}/api/v1/sentiment", json={"review": text}).json()["id"] for text in (tricky, "Meh.")]

    # When users give feedback and an operator exports the reviews
    httpx.post(f"{app.url}/api/v1/reviews/{ids[0]}/feedback", json={"label": "positive"})
    httpx.post(f"{app.url}/api/v1/reviews/{ids[1]}/feedback", json={"label": "negative"})
    export = httpx.get(f"{app.url}/api/v1/reviews/export", headers={"X-API-Key": EXPORT_KEY})

    # Then the export holds the text exactly, and the training CLI reads it back
    assert export.status_code == 200, export.text
    rows = list(csv.reader(io.StringIO(export.text, newline=""), delimiter="\t"))
    assert [tricky, "1"] in rows
    reviews, labels = parse_tsv(export.content)
    assert reviews[reviews.index(tricky)] == tricky
    assert labels[reviews.index(tricky)] == 1


# --- the version header and the version cookie: only stable or canary is believed ---------------------------------

# Header values a client library sends (no leading or trailing whitespace, no control characters): printable
# ASCII, the Latin-1 bytes HTTP calls obs-text, and look-alikes of the arms.
HEADER_VALUES = st.one_of(
    st.sampled_from(["canary", "stable", "Canary", "canary,stable", "canary canary", "c\u00e4nary", "canaryX", ""]),
    st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=300).map(str.strip),
)


def test_the_version_header_is_only_ever_counted_as_an_arm_never_echoed(shared_stacks):
    app = shared_stacks["stable"].app
    sample = 'requests_by_header_version_total{{header_version="{}",version="stable"}}'
    before = {value: metric(app, sample.format(value)) for value in (*ARMS, "invalid")}
    sent: collections.Counter = collections.Counter()

    @hypothesis.given(value=HEADER_VALUES)
    @PROPERTY
    def send(value: str) -> None:
        headers = {"X-App-Version": value.encode("latin-1")}
        response = httpx.post(f"{app.url}/api/v1/sentiment", json={"review": "Nice."}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["x-served-by"] == "app-service/stable"
        if len(value) >= 12:  # shorter ones may be in any answer by chance ("null", "stab")
            assert value not in response.text
            assert value not in str(response.headers)
        sent[value if value in ARMS else "invalid"] += 1

    send()

    for value in (*ARMS, "invalid"):
        assert metric(app, sample.format(value)) == before[value] + sent[value]
    counted = set(re.findall(r'header_version="([^"]*)"', httpx.get(f"{app.url}/metrics").text))
    assert counted == {*ARMS, "absent", "invalid"}
    print(f"\nX-App-Version: {sent.total()} values sent, counted as {dict(sent)}")


@pytest.mark.parametrize(
    ("header", "status", "counted_as"),
    [
        (b"X-App-Version: canary\r\nX-Injected: 1", 200, "canary"),  # CRLF makes a second header, never a value
        (b"X-App-Version:   canary   ", 200, "invalid"),  # not exactly an arm (Envoy would strip it: RFC 9110)
        (b"X-App-Version: stable\r\n canary", 400, None),  # obsolete line folding
        (b"X-App-Version: canary\rX-Injected: 1", 400, None),  # a bare CR
        (b"X-App-Version: canary\x00", 400, None),
        (b"X-App-Version: " + b"canary" * 20_000, 200, "invalid"),  # 120 kB: the gateway must cap headers
    ],
    ids=["crlf", "spaces", "obs-fold", "bare-cr", "nul", "120-kb"],
)
def test_a_forged_version_header_is_refused_or_counted_as_invalid(shared_stacks, header, status, counted_as):
    app = shared_stacks["stable"].app
    sample = f'requests_by_header_version_total{{header_version="{counted_as}",version="stable"}}'
    before = metric(app, sample) if counted_as else 0

    answer = exchange(app, post("/api/v1/sentiment", b'{"review": "Nice."}', header.decode("latin-1")))

    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert b"injected" not in answer.lower()
    if counted_as:
        assert metric(app, sample) == before + 1


COOKIE_VALUES = st.one_of(
    st.sampled_from(['canary"><script>alert(1)</script>', "canary%00", '"canary"', "canaryX", "stable", "canary"]),
    st.text(st.characters(codec="ascii", exclude_categories=["Cc"], exclude_characters=";"), max_size=200).map(
        str.strip
    ),
)


def test_the_page_renders_and_sets_only_an_arm_whatever_the_version_cookie_says(shared_stacks):
    frontend = shared_stacks["stable"].frontend
    own_cookie = "app-version=stable; Max-Age=2592000; Path=/; SameSite=lax"
    pages: collections.Counter = collections.Counter()

    @hypothesis.given(value=COOKIE_VALUES)
    @PROPERTY
    def visit(value: str) -> None:
        response = httpx.get(frontend.url, headers={"Cookie": f"app-version={value}"})
        assert response.status_code == 200
        version = re.search(r'data-app-version="([^"]*)"', response.text)[1]
        set_cookies = [c for c in response.headers.get_list("set-cookie") if c.startswith("app-version=")]
        # Believed: exactly an arm, or an arm in the double quotes RFC 6265 allows around a cookie value (which
        # Starlette reads as the value). Anything else, look-alikes such as canaryX or canary%00 first among them,
        # is no cookie: the page is this frontend's own arm, with a fresh cookie naming it.
        named = value.strip()
        unquoted = named[1:-1] if len(named) >= 2 and named[0] == named[-1] == '"' else named
        if unquoted in ARMS:
            assert (version, set_cookies) == (unquoted, []), value
        else:
            assert (version, set_cookies) == ("stable", [own_cookie]), value
        assert "<script>alert" not in response.text
        pages[version] += 1

    visit()
    print(f"\napp-version cookie: {pages.total()} values sent, pages rendered for {dict(pages)}")


@pytest.mark.parametrize(
    "key", [b"", EXPORT_KEY.upper().encode(), EXPORT_KEY.encode()[:-1], EXPORT_KEY.encode() + b"\xe9", b"k" * 20_000]
)
def test_the_export_refuses_every_key_but_its_own(shared_stacks, key):
    app = shared_stacks["stable"].app

    response = httpx.get(f"{app.url}/api/v1/reviews/export", headers={"X-API-Key": key})

    assert response.status_code == 401, response.text
    assert response.json()["detail"] == "a valid X-API-Key header is required"
    assert httpx.get(f"{app.url}/api/v1/reviews/export", headers={"X-API-Key": EXPORT_KEY}).status_code == 200
