"""Request bodies read as RFC 8259 JSON, and the 422 for any input, however odd, never a 500."""

import pytest

# Bodies Python's json module reads although RFC 8259 does not allow them, or refuses with a vague 400: each used
# to be a 500 (the 422 could not write NaN or infinity back as JSON) or a 400 "There was an error parsing the body".
NOT_RFC_8259_JSON = {
    "NaN": (b'{"review": NaN}', 11, "unexpected character"),
    "Infinity": (b'{"review": Infinity}', 11, "unexpected character"),
    "-Infinity": (b'{"review": -Infinity}', 12, "no digit after sign"),
    "NaN where no field is read": (b'{"review": "Nice.", "other": "x", "x": [NaN]}', 40, "unexpected character"),
    "1e999": (b'{"review": 1e999}', 11, "infinity"),
    "an integer of 4301 digits": (b'{"review": ' + b"9" * 4301 + b"}", 11, "infinity"),
    "a lone surrogate": (b'{"review": "a\\ud800b"}', 13, "surrogate"),
    "not UTF-8": (b'{"review": "caf\xc3\xa9 \xe9"}', 17, "not UTF-8"),
    "UTF-16": ('{"review": "Nice."}'.encode("utf-16"), 0, "not UTF-8"),
    "nested 1025 deep": (b"[" * 1025 + b"]" * 1025, 1025, "depth"),
}


@pytest.mark.parametrize("name", NOT_RFC_8259_JSON)
def test_a_body_that_is_not_rfc_8259_json_is_a_422_saying_why_and_where(make_client, name):
    body, position, reason = NOT_RFC_8259_JSON[name]
    client = make_client(max_request_bytes=65_536)

    response = client.post("/reviews", content=body, headers={"content-type": "application/json"})

    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert (problem["type"], problem["loc"]) == ("json_invalid", ["body", position])
    assert reason in problem["ctx"]["error"]


def test_malformed_json_is_a_422(client):
    response = client.post("/reviews", content=b'{"review": ', headers={"content-type": "application/json"})

    assert response.status_code == 422
    assert "JSON" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'\xff\xfe{"review": "x"}'),  # read as bytes, which are not UTF-8: used to be a 500
        ("application/json", b'{"review": ' + b"[" * 1000 + b"]" * 1000 + b"}"),  # too deep to echo: used to be a 500
    ],
    ids=["bytes-not-utf8", "nested-1000-deep"],
)
def test_an_input_too_odd_to_echo_is_a_422_without_it(client, content_type, body):
    response = client.post("/reviews", content=body, headers={"content-type": content_type})

    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    assert problem["msg"].startswith("Input should be a valid")
    assert "input" not in problem


def test_an_invalid_input_is_echoed_with_every_non_ascii_character_escaped(client):
    response = client.post("/reviews", json={"review": ["caf\u00e9"]})

    assert response.status_code == 422
    assert b'"input":["caf\\u00e9"]' in response.content
