"""Each browser on a client address of its own: a SOCKS5 relay per address, for Chromium to reach Envoy through.

The gateway's rate limits count per client address, and fifty new browsers are
fifty people, not one. Chromium cannot bind its sockets to an address, so each
browser context gets a proxy (Playwright's per-context `proxy`): a relay on
127.0.0.1 that connects onwards, to this machine only, from that context's own
loopback address. Chromium's network stack stays whole (cookies, CORS and its
preflights, caching); only the source address of its connections changes.

Hand-written because it is SOCKS5's CONNECT command alone (RFC 1928, without
authentication), and no kept-up Python package serves SOCKS5 from a chosen
source address.
"""

import asyncio
import contextlib
import ipaddress
import socket
import struct
import threading
from collections.abc import Iterator

_VERSION, _NO_AUTHENTICATION, _CONNECT = 5, 0, 1
_IPV4, _DOMAIN = 1, 3
_SUCCEEDED, _NOT_ALLOWED, _REFUSED, _UNSUPPORTED = 0, 2, 5, 7


class SocksRelays:
    """SOCKS5 relays in a thread of their own, one listening port per source address."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="socks-relays", daemon=True)
        self._thread.start()
        self._servers: list[asyncio.Server] = []
        # What is relayed now: each connection's streams, and the task serving it.
        self._streams: set[asyncio.StreamWriter] = set()
        self._serving: set[asyncio.Task] = set()

    def relay_from(self, source: str) -> str:
        """A relay whose connections leave from `source`; its proxy URL for Playwright."""
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(lambda r, w: self._serve(r, w, source), "127.0.0.1", 0), self._loop
        ).result()
        self._servers.append(server)
        return f"socks5://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    def close(self) -> None:
        """Stop listening, close what is still relayed, wait until each connection's task has ended, stop."""

        async def close_all() -> None:
            for server in self._servers:
                server.close()
            for stream in self._streams:
                stream.close()
            if self._serving:
                await asyncio.wait(self._serving)

        asyncio.run_coroutine_threadsafe(close_all(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, source: str) -> None:
        task = asyncio.current_task()
        self._serving.add(task)
        self._streams.add(writer)
        upstream_writer = None
        try:
            target = await _handshake(reader, writer)
            if target is None:
                return
            try:
                upstream_reader, upstream_writer = await asyncio.open_connection(
                    *target, local_addr=(source, 0), family=socket.AF_INET
                )
            except OSError:
                await _reply(writer, _REFUSED)
                return
            self._streams.add(upstream_writer)
            await _reply(writer, _SUCCEEDED)
            await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for stream in (writer, upstream_writer):
                if stream is not None:
                    stream.close()
                    self._streams.discard(stream)
            self._serving.discard(task)


@contextlib.contextmanager
def socks_relays() -> Iterator[SocksRelays]:
    relays = SocksRelays()
    try:
        yield relays
    finally:
        relays.close()


async def _handshake(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> tuple[str, int] | None:
    """The greeting and the CONNECT request: where to connect, or None once the request is refused."""
    version, methods = await reader.readexactly(2)
    if version != _VERSION or _NO_AUTHENTICATION not in await reader.readexactly(methods):
        return None
    writer.write(bytes([_VERSION, _NO_AUTHENTICATION]))
    _, command, _, address_type = await reader.readexactly(4)
    if address_type == _IPV4:
        host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
    elif address_type == _DOMAIN:
        host = (await reader.readexactly((await reader.readexactly(1))[0])).decode("ascii", "replace")
    else:
        await _reply(writer, _UNSUPPORTED)
        return None
    (port,) = struct.unpack("!H", await reader.readexactly(2))
    # Only this machine: the `*.localhost` names browsers resolve to 127.0.0.1, and loopback addresses.
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    if command != _CONNECT or not host.startswith("127."):
        await _reply(writer, _UNSUPPORTED if command != _CONNECT else _NOT_ALLOWED)
        return None
    return host, port


async def _reply(writer: asyncio.StreamWriter, status: int) -> None:
    writer.write(bytes([_VERSION, status, 0, _IPV4, 0, 0, 0, 0, 0, 0]))
    await writer.drain()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        if writer.can_write_eof():
            with contextlib.suppress(OSError):
                writer.write_eof()
