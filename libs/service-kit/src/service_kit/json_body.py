"""Request bodies read as the JSON RFC 8259 defines, and nothing more.

FastAPI reads a JSON body with Python's json module, which reads more than JSON: NaN,
Infinity and -Infinity, numbers past a double's range (1e999 becomes infinity), unpaired
surrogates ("\\ud800"), UTF-16 and UTF-32 text; and it refuses an integer of more than
4300 digits with a ValueError of its own (a vague 400). The 422 that echoes such a value
cannot write it back as JSON: the client got a 500. orjson reads exactly RFC 8259 JSON in
UTF-8, nested at most 1024 deep, and says what is wrong and where as a json.JSONDecodeError,
which FastAPI answers as for any malformed JSON: a 422 `json_invalid` with the position.
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute


def read_json(body: bytes) -> Any:
    """The body's JSON value; json.JSONDecodeError when it is not UTF-8 JSON text."""
    try:
        text = body.decode()
    except UnicodeDecodeError as error:
        # orjson would say so too, but at position 0: name the first byte that is not UTF-8, and where it is.
        position = len(body[: error.start].decode())
        raise json.JSONDecodeError(
            f"not UTF-8 (RFC 8259 8.1): byte {body[error.start]:#04x}", body.decode(errors="replace"), position
        ) from error
    return orjson.loads(text)


class JSONBodyRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_json(await self.body())
        return self._json


class JSONBodyRoute(APIRoute):
    """A route whose JSON body is read by read_json (FastAPI's way to change how a request is read)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handle_with_json_body(request: Request) -> Response:
            return await handle(JSONBodyRequest(request.scope, request.receive))

        return handle_with_json_body
