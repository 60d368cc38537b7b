"""Request bodies for the fuzz, as hypothesis strategies, beyond what an OpenAPI schema describes.

Built from the JSON grammar (RFC 8259) as text, so that a body can hold what no JSON encoder writes: NaN,
Infinity, numbers past a double's range, integers of thousands of digits, lone surrogate escapes, duplicate keys,
nesting 1,100 deep, a cut in the middle of a token or of a UTF-8 sequence; and as bytes: random, UTF-8 text,
text with bytes that are not UTF-8, the same JSON in UTF-16 or UTF-32. A route's body is an object of named
fields; `VALID` and `REFUSED` say, per field name, what the schema takes and what it refuses.
"""

import json

from hypothesis import strategies as st

LABELS = ("negative", "positive")
MAX_REVIEW_CHARS = 5_000
MAX_BATCH_SIZE = 1_000

# --- the JSON grammar, as text ----------------------------------------------------------------------------------------

STRINGS = st.builds(json.dumps, st.text(max_size=20), ensure_ascii=st.booleans())
NUMBERS = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
    st.sampled_from(["-0", "0.0", "1E3", "-12.25e-2", "1e308", "5e-324", "1e-99999"]),  # in range: 1e-99999 is 0.0
)
SCALARS = st.one_of(st.sampled_from(["null", "true", "false"]), NUMBERS, STRINGS)
BLANK = st.sampled_from(["", " ", "\n", "\t", "\r\n  "])  # the only whitespace RFC 8259 has


def _array(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{key}:{value}" for key, value in pairs) + "}"


JSON_TEXT = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(_array),
        st.lists(st.tuples(STRINGS, inner), max_size=4).map(_object),
        st.tuples(BLANK, inner, BLANK).map("".join),
    ),
    max_leaves=12,
)


def nested(depth: int, innermost: str = "1") -> str:
    return "[" * depth + innermost + "]" * depth


@st.composite
def holding(draw: st.DrawFn, token: str) -> str:
    """JSON text with `token` as one of its values, at a random depth and place."""
    text = token
    for _ in range(draw(st.integers(0, 4))):
        siblings = draw(st.lists(JSON_TEXT, max_size=3))
        siblings.insert(draw(st.integers(0, len(siblings))), text)
        if draw(st.booleans()):
            text = _array(siblings)
        else:
            keys = draw(st.lists(STRINGS, min_size=len(siblings), max_size=len(siblings)))
            text = _object(list(zip(keys, siblings, strict=True)))
    return text


# --- what the schemas take and refuse, per field ----------------------------------------------------------------------

VALID = {
    "review": st.sampled_from(["The soup was lovely.", "Awful.", "ok", "Très bon 👍"]),
    "label": st.sampled_from(LABELS),
    "reviews": st.lists(st.sampled_from(["Nice.", "The steak was awful.", "x"]), min_size=1, max_size=5),
}

# Any JSON value but a string: what a field of text refuses.
NOT_STRINGS = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
BLANK_REVIEWS = st.text(" \t\n\r", min_size=1, max_size=12)
LONG_REVIEWS = st.integers(MAX_REVIEW_CHARS + 1, 3 * MAX_REVIEW_CHARS).map(lambda length: "é" * length)
BAD_REVIEWS = st.one_of(NOT_STRINGS, st.just(""), BLANK_REVIEWS, LONG_REVIEWS)


@st.composite
def _reviews_with_one_bad(draw: st.DrawFn) -> list:
    reviews = draw(VALID["reviews"])
    reviews.insert(draw(st.integers(0, len(reviews))), draw(BAD_REVIEWS))
    return reviews


REFUSED = {
    "review": BAD_REVIEWS,
    "label": st.one_of(
        NOT_STRINGS,
        st.sampled_from(["Positive", "positive ", "NEGATIVE", "", "neutral", "positive\x00"]),
        st.text(max_size=12).filter(lambda text: text not in LABELS),
    ),
    "reviews": st.one_of(
        NOT_STRINGS.filter(lambda value: not isinstance(value, list)),
        st.text(max_size=12),
        st.just([]),
        _reviews_with_one_bad(),
        st.integers(MAX_BATCH_SIZE + 1, 2 * MAX_BATCH_SIZE).map(lambda size: ["x"] * size),
    ),
}


def body_of(pairs: list[tuple[str, str]]) -> bytes:
    """A JSON object from (name, value as JSON text) pairs, in order, duplicates kept."""
    return _object([(json.dumps(name), value) for name, value in pairs]).encode()


def extra_fields(field: str) -> st.SearchStrategy[list[tuple[str, str]]]:
    return st.lists(st.tuples(st.text(max_size=10).filter(lambda name: name != field), JSON_TEXT), max_size=3)


@st.composite
def refused_by_the_schema(draw: st.DrawFn, field: str, limit: int) -> bytes:
    """JSON text the grammar takes and the schema refuses: the field of the wrong type or out of its bounds, nested
    deep, huge (the body within `limit` bytes), or missing; other fields beside it; or no object at all."""
    value = draw(
        st.one_of(
            REFUSED[field].map(json.dumps),
            # Deep: the 422 echoes the value, until it is too deep to write back; past 1023 levels inside the
            # object, the reader refuses it.
            st.one_of(st.integers(1, 64), st.integers(900, 1_100), st.sampled_from([1_023, 1_024])).map(nested),
            st.integers(1, limit // 2 - 16).map(lambda size: _array(["0"] * size)),
            st.integers(MAX_REVIEW_CHARS + 1, limit - 16 - len(field)).map(lambda size: json.dumps("x" * size)),
        )
    )
    extras = draw(extra_fields(field))
    return draw(
        st.one_of(
            st.just(body_of([*extras, (field, value)])),
            st.just(body_of(extras)),
            JSON_TEXT.filter(lambda text: not text.strip().startswith("{")).map(str.encode),
        )
    )


def valid_body(field: str) -> st.SearchStrategy[bytes]:
    return VALID[field].map(lambda value: body_of([(field, json.dumps(value))]))


def duplicated(field: str, first: st.SearchStrategy, last: st.SearchStrategy) -> st.SearchStrategy[bytes]:
    """An object holding the field twice: RFC 8259 leaves it to the reader, and most keep the last value."""
    return st.tuples(first, last).map(lambda values: body_of([(field, json.dumps(value)) for value in values]))


# --- what only Python's json module reads -----------------------------------------------------------------------------

PYTHON_ONLY_TOKENS = st.one_of(
    st.sampled_from(["NaN", "Infinity", "-Infinity"]),
    # Past a double's range: Python reads infinity, or refuses an integer of more than 4300 digits on its own.
    st.builds(
        "{}{}{}{}".format,
        st.sampled_from(["", "-"]),
        st.integers(1, 9),
        st.sampled_from(["e", "E", "e+"]),
        st.integers(309, 100_000),
    ),
    st.builds("{}{}".format, st.sampled_from(["", "-"]), st.integers(310, 12_000).map(lambda digits: "9" * digits)),
    st.integers(400, 1_000).map(lambda digits: "7" * digits + ".5"),
    # An unpaired surrogate, escaped: Python reads a string that UTF-8 cannot encode.
    st.builds(
        '"{}\\u{:04{}}{}"'.format,
        st.text(max_size=3).map(lambda text: json.dumps(text)[1:-1]),
        st.integers(0xD800, 0xDFFF),
        st.sampled_from("xX"),
        st.sampled_from(["", "b", " "]),
    ),
)
# Python's json module reads bytes in any of these (it guesses which from the first bytes); RFC 8259 allows UTF-8 only.
PYTHON_ONLY_ENCODINGS = ("utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-8-sig")


@st.composite
def only_python_reads(draw: st.DrawFn, field: str) -> bytes:
    """Bodies Python's json module reads and RFC 8259 does not allow, whether or not the schema would take them."""
    token_text = holding(draw(PYTHON_ONLY_TOKENS))
    valid = draw(VALID[field].map(json.dumps))
    return draw(
        st.one_of(
            token_text.map(lambda text: body_of([(field, text)])),  # where the field is
            token_text.map(lambda text: body_of([(field, valid), ("x", text)])),  # where no field is read
            token_text.map(str.encode),  # the whole body
            st.sampled_from(PYTHON_ONLY_ENCODINGS).map(body_of([(field, valid)]).decode().encode),
        )
    )


# --- bytes, text, truncation ------------------------------------------------------------------------------------------

# Lone continuation bytes, Latin-1, overlong forms, a surrogate, past U+10FFFF, five bytes, cut sequences.
NOT_UTF8 = st.sampled_from(
    [
        b"\x80",
        b"\xbf",
        b"\xff",
        b"\xfe",
        b"\xe9",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xe2\x82",
        b"\xc3",
    ]
)


@st.composite
def a_string_not_utf8(draw: st.DrawFn, field: str) -> bytes:
    """The field's string (in a list for a list field) holding bytes that are not UTF-8, and nothing else wrong."""
    text = json.dumps(draw(st.text(max_size=20)), ensure_ascii=False).encode()[1:-1]
    cut = draw(st.integers(0, len(text)))
    string = b'"' + text[:cut] + draw(NOT_UTF8) + text[cut:] + b'"'
    value = b"[" + string + b"]" if field == "reviews" else string
    return b'{"' + field.encode() + b'": ' + value + b"}"


@st.composite
def truncated(draw: st.DrawFn, field: str) -> bytes:
    """A JSON object, cut short anywhere: in a token, a string, an escape or a UTF-8 sequence."""
    whole = draw(st.one_of(valid_body(field), JSON_TEXT.filter(lambda text: text.startswith("{")).map(str.encode)))
    return whole[: draw(st.integers(0, len(whole) - 1))]


RANDOM_BYTES = st.binary(max_size=2_000)
UTF8_TEXT = st.text(max_size=500).map(str.encode)


# --- content types ----------------------------------------------------------------------------------------------------

# FastAPI reads a body as JSON when its media type is application/json or application/*+json.
JSON_CONTENT_TYPES = (
    b"application/json",
    b"application/json; charset=utf-8",
    b"Application/JSON",
    b"application/json; charset=latin-1",
    b"application/vnd.api+json",
    b"application/merge-patch+json",
    b"application/json;;;",
    b'application/json; charset="',
)
NOT_JSON_CONTENT_TYPES = (
    None,
    b"",
    b"text/plain",
    b"text/json",
    b"application/jsonx",
    b"application/octet-stream",
    b"application/x-www-form-urlencoded",
    b"multipart/form-data",
    b"multipart/form-data; boundary=x",
    b"*/*",
    b"json",
    b"/json",
    b"application/",
)
ODD_CONTENT_TYPES = st.one_of(
    st.sampled_from(JSON_CONTENT_TYPES + NOT_JSON_CONTENT_TYPES),
    # Anything a header may carry: printable Latin-1 (obs-text included), up to 4 kB.
    st.text(st.characters(codec="latin-1", exclude_categories=["Cc"]), max_size=60).map(
        lambda text: text.strip().encode("latin-1")
    ),
    st.integers(1, 4_000).map(lambda size: b"application/json; x=" + b"y" * size),
)
