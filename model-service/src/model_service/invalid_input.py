"""The 422 for a request that fails validation, able to echo any input.

FastAPI's own answer echoes the invalid value, and a JSON body may carry a lone
surrogate ("\\ud800" escaped in the JSON text) that Python decodes but UTF-8
cannot encode: rendering that answer fails, and the client gets a 500. Escaping
every non-ASCII character gives the same JSON, always encodable.
"""

import json

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class AsciiJSONResponse(JSONResponse):
    def render(self, content: object) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


async def invalid_input(request: Request, error: RequestValidationError) -> JSONResponse:
    return AsciiJSONResponse({"detail": jsonable_encoder(error.errors())}, status_code=422)
