"""The visitor id's format: what the frontend makes is exactly what the app-service accepts."""

import pytest
from service_kit.visitor_id import is_visitor_id, new_visitor_id


def test_a_new_visitor_id_is_22_url_safe_characters_and_never_repeats():
    ids = {new_visitor_id() for _ in range(1000)}

    assert len(ids) == 1000
    assert all(is_visitor_id(visitor) for visitor in ids)
    assert {len(visitor) for visitor in ids} == {22}


@pytest.mark.parametrize(
    "value",
    [None, "", "a" * 21, "a" * 23, "a" * 21 + "=", "a" * 21 + "/", "a" * 21 + "+", " " + "a" * 21, "a" * 22 + "\n",
     "ä" * 22, "a" * 11 + ";" + "a" * 10],
)  # fmt: skip
def test_anything_but_that_format_is_no_visitor_id(value):
    assert not is_visitor_id(value)
