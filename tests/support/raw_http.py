"""HTTP/1.1 requests written byte by byte: any body, under any Content-Type or none, framed by length or in chunks.

A client library would refuse some of these, or fix them up; the services must answer them all.
"""

import http.client
import json
import socket
from dataclasses import dataclass

CHUNK_BYTES = 65_536


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def detail(self) -> object:
        """The `detail` of a JSON answer; AssertionError, showing the answer, when there is none."""
        try:
            detail = json.loads(self.body)["detail"]
        except (ValueError, TypeError, KeyError) as error:
            shown = f"{self.status} {self.content_type} {self.body[:300]!r}"
            raise AssertionError(f"an answer without a JSON detail: {shown}") from error
        assert detail, f"{self.status} with an empty detail: {self.body[:300]!r}"
        return detail


def send(
    port: int,
    method: str,
    path: str,
    body: bytes,
    content_type: bytes | None = b"application/json",
    *,
    chunked: bool = False,
    timeout: float = 5.0,
) -> Answer:
    """One request on a connection of its own. Each step (connect, send, each read) may take `timeout` seconds at
    most: a service that takes longer hangs, and the TimeoutError says so."""
    head = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1"]
    if content_type is not None:
        head.append(b"Content-Type: " + content_type)
    head.append(b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % len(body))
    if chunked:
        pieces = [body[start : start + CHUNK_BYTES] for start in range(0, len(body), CHUNK_BYTES)]
        body = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        # A service that answers before it has read the whole body (a 413) goes on reading it, and drops it.
        connection.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        response = http.client.HTTPResponse(connection, method=method)
        response.begin()
        return Answer(response.status, response.getheader("content-type", ""), response.read())
