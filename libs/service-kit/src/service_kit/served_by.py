"""The `X-Served-By: <service>/<arm>` response header: which version answered."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServedByMiddleware:
    """Adds the header from the process's own settings, never from the request."""

    def __init__(self, app: ASGIApp, service: str, app_version: str) -> None:
        self._app = app
        self._header = (b"x-served-by", f"{service}/{app_version}".encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self._header]
            await send(message)

        await self._app(scope, receive, send_with_header)
