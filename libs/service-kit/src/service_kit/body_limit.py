"""Refuses request bodies over a byte limit before they are read into memory or parsed.

FastAPI 0.165 has a limit of its own (`max_body_size`, on the app, a router or a route), and it is not
used here because of what its 413 loses (libs/service-kit/tests/test_body_limit.py shows it). On the app
it runs outside every middleware the app adds: a body that declares its length too large gets a plain-text
`Content Too Large` without the CORS headers, so the page cannot read it, and without X-Served-By. On a
router the CORS headers stay, but that answer is still plain text that names no limit, where every other
error of the APIs is JSON `{"detail": ...}`. This middleware sits inside CORS, X-Served-By and the RED
metrics, and answers every 413 as JSON naming the limit.
"""

import json

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimitMiddleware:
    """413 for a body over `max_bytes`: at once when Content-Length says so, else as soon as the stream exceeds it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes
        self._detail = f"request body too large: at most {max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self._max_bytes:
                # FastAPI turns an HTTPException raised while it reads the body into this answer.
                raise HTTPException(413, detail=self._detail)
            return message

        await self._app(scope, receive_within_limit, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": self._detail}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
