"""Reading manifest fields so that none goes unnoticed.

`Fields` wraps one mapping of a resource. The compiler takes the keys it
understands; `done()` then refuses any key left over, naming its path. So a
field the compiler does not support (say `mirror:` on a route) stops the
compile instead of being silently ignored.
"""

import re
from collections.abc import Iterator
from typing import Any

from sentiment_devtools.mesh.errors import CompileError


class Fields:
    def __init__(self, data: object, resource: str, path: str) -> None:
        if not isinstance(data, dict):
            raise CompileError(resource, f"{path}: expected a mapping, found {type(data).__name__}")
        self._data: dict[str, Any] = data
        self._unread = set(data)
        self.resource = resource
        self.path = path

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def field_names(self) -> list[str]:
        return list(self._data)

    def error(self, key: str, message: str) -> CompileError:
        return CompileError(self.resource, f"{self._at(key)}: {message}")

    def take(self, key: str, default: Any = None, required: bool = False) -> Any:
        self._unread.discard(key)
        if key not in self._data:
            if required:
                raise CompileError(self.resource, f"{self._at(key)}: required")
            return default
        return self._data[key]

    def take_str(self, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = self.take(key, default, required)
        if value is not None and not isinstance(value, str):
            raise self.error(key, f"expected a string, found {value!r}")
        return value

    def take_int(self, key: str, default: int | None = None) -> int | None:
        value = self.take(key, default)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self.error(key, f"expected an integer, found {value!r}")
        return value

    def nested(self, key: str, required: bool = False) -> "Fields | None":
        value = self.take(key, required=required)
        return None if value is None else Fields(value, self.resource, self._at(key))

    def items(self, key: str, required: bool = False) -> Iterator["Fields"]:
        """Each mapping of a list field, wrapped."""
        values = self.take(key, [], required)
        if not isinstance(values, list):
            raise self.error(key, "expected a list")
        for index, value in enumerate(values):
            yield Fields(value, self.resource, f"{self._at(key)}[{index}]")

    def strings(self, key: str, required: bool = False) -> list[str]:
        values = self.take(key, [], required)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise self.error(key, "expected a list of strings")
        return values

    def string_map(self, key: str) -> dict[str, str]:
        values = self.take(key, {})
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise self.error(key, "expected a mapping of strings")
        return values

    def done(self) -> None:
        """Refuse whatever was not taken: the compiler does not support it."""
        if self._unread:
            key = sorted(self._unread)[0]
            raise self.error(key, "not supported by the local mesh compiler (see docs/local-mesh.md)")

    def _at(self, key: str) -> str:
        if not key:
            return self.path
        return f"{self.path}.{key}" if self.path else key


def spec_of(document: dict, resource: str) -> Fields:
    return Fields(document.get("spec", {}), resource, "spec")


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")


_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def optional_duration(fields: Fields, key: str) -> float | None:
    value = fields.take_str(key)
    return None if value is None else parse_duration(value, fields, key)


def parse_duration(text: str, fields: Fields, key: str) -> float:
    """A Go duration as Istio writes them ("10s", "1m30s", "250ms") in seconds."""
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise fields.error(key, f"{text!r} is not a duration like 10s, 250ms or 1m30s")
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)
