"""`python -m bench.flood`: one client floods the gateway; what each client gets, and what the app-service sees.

The drill of the per-client rate limit, on what `make run` starts (free ports,
logs in --state-dir), compiled from the k8s folder given, each client bound to
an address of its own:

- api: a client on 127.0.0.2 floods the API on 32 connections, each review
  naming another client in a forged X-Forwarded-For, while an ordinary user on
  127.0.0.3 sends a review every 0.2 s;
- page: the same client floods the page host instead, while the user sends
  its reviews and a reader on 127.0.0.4 loads the page with its files every
  second;
- memory: Envoy's allocated bytes before and after --distinct-clients
  clients, each on an address of its own, sent one review each (the cost of
  a client's bucket).

For each flood: requests sent, accepted (200) and refused (429) per client,
and the reviews the app-services counted themselves. Prints a table; figures
in docs/reliability.md, "Rate limits".

    python -m bench.flood [--k8s-dir k8s] [--seconds 6] [--distinct-clients 3000]
"""

import argparse
import asyncio
import itertools
import re
import shutil
import time
from collections import Counter
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sentiment_devtools.stack.model_release import ensure_release
from sentiment_devtools.stack.stack import LocalStack
from sentiment_devtools.system import API_HOST, ARMS, FRONTEND_HOST

from bench.system import start_system

CONNECTIONS = 32
USER_EVERY_SECONDS = 0.2
READER_EVERY_SECONDS = 1.0
TIMEOUT = httpx.Timeout(10.0)
REVIEW = {"review": "The pasta was wonderful and the staff were kind."}


class Client:
    """One client on its own source address, counting its answers by status."""

    def __init__(self, stack: LocalStack, address: str, connections: int = 1) -> None:
        port = stack.ports.ingress
        self.hosts = {"api": f"{API_HOST}:{port}", "page": f"{FRONTEND_HOST}:{port}"}
        self.origin = stack.frontend_url
        self.http = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            transport=httpx.AsyncHTTPTransport(local_address=address, limits=httpx.Limits(max_connections=connections)),
            timeout=TIMEOUT,
        )
        self.statuses: Counter = Counter()

    async def review(self, headers: dict | None = None) -> None:
        headers = {"host": self.hosts["api"], "origin": self.origin, **(headers or {})}
        await self._count(self.http.post("/api/v1/sentiment", json=REVIEW, headers=headers))

    async def page(self, path: str = "/", headers: dict | None = None) -> httpx.Response:
        return await self._count(self.http.get(path, headers={"host": self.hosts["page"], **(headers or {})}))

    async def page_load(self) -> None:
        page = await self.page()
        for path in sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text))):
            await self.page(path)

    async def _count(self, sending) -> httpx.Response | None:
        try:
            response = await sending
        except httpx.HTTPError as error:
            self.statuses[type(error).__name__] += 1
            return None
        self.statuses[response.status_code] += 1
        return response

    async def aclose(self) -> None:
        await self.http.aclose()


async def flood(client: Client, target: str, stop: asyncio.Event) -> None:
    numbers = itertools.count()

    async def connection() -> None:
        while not stop.is_set():
            n = next(numbers)
            forged = {"x-forwarded-for": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
            await (client.review(forged) if target == "api" else client.page("/", forged))

    await asyncio.gather(*(connection() for _ in range(CONNECTIONS)))


async def every(seconds: float, duration: float, act) -> None:
    """`act()` every `seconds` for `duration` seconds: a person's pace, not as fast as possible."""
    start = time.monotonic()
    for tick in itertools.count():
        if tick * seconds >= duration:
            return
        await asyncio.sleep(max(0.0, start + tick * seconds - time.monotonic()))
        await act()


async def drill(stack: LocalStack, target: str, seconds: float) -> dict[str, Counter]:
    flooder = Client(stack, "127.0.0.2", CONNECTIONS)
    user, reader = Client(stack, "127.0.0.3"), Client(stack, "127.0.0.4")
    stop = asyncio.Event()
    try:
        flooding = asyncio.create_task(flood(flooder, target, stop))
        people = [every(USER_EVERY_SECONDS, seconds, user.review)]
        if target == "page":
            people.append(every(READER_EVERY_SECONDS, seconds, reader.page_load))
        await asyncio.gather(*people)
        stop.set()
        await flooding
    finally:
        for client in (flooder, user, reader):
            await client.aclose()
    clients = {"flooder 127.0.0.2": flooder.statuses, "user 127.0.0.3": user.statuses}
    return clients | ({"reader 127.0.0.4": reader.statuses} if target == "page" else {})


def reviews_served(stack: LocalStack) -> int:
    """The reviews both app-services answered, by their own `http_requests_total`."""
    total = 0
    for arm in ARMS:
        text = httpx.get(f"{stack.instance('app-service', arm).url}/metrics", timeout=TIMEOUT).text
        for family in text_string_to_metric_families(text):
            total += sum(
                int(s.value)
                for s in family.samples
                if s.name == "http_requests_total" and s.labels["route"] == "/api/v1/sentiment"
            )
    return total


async def distinct_clients(stack: LocalStack, count: int) -> int:
    """One review from each of `count` clients, each on its own address (127.1.x.y); Envoy's allocated bytes after."""
    semaphore = asyncio.Semaphore(CONNECTIONS)

    async def one(n: int) -> None:
        async with semaphore:
            client = Client(stack, f"127.1.{n // 250}.{n % 250 + 1}")
            await client.review()
            await client.aclose()

    await asyncio.gather(*(one(n) for n in range(count)))
    return envoy_allocated_bytes(stack)


def envoy_allocated_bytes(stack: LocalStack) -> int:
    return int(httpx.get(f"{stack.admin_url}/memory", timeout=TIMEOUT).json()["allocated"])


def print_table(name: str, clients: dict[str, Counter], served: int, seconds: float) -> None:
    print(f"\n{name} ({seconds:g} s): the app-services answered {served} reviews")
    print(f"  {'client':<18} {'sent':>7} {'200':>7} {'429':>7}  other")
    for client, seen in clients.items():
        other = {k: v for k, v in seen.items() if k not in (200, 429)}
        print(f"  {client:<18} {sum(seen.values()):>7} {seen[200]:>7} {seen[429]:>7}  {other or ''}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench.flood", description=__doc__.splitlines()[0])
    parser.add_argument("--k8s-dir", type=Path, default=Path("k8s"), help="the manifests Envoy is compiled from")
    parser.add_argument("--seconds", type=float, default=6.0, help="how long each flood lasts (default: 6)")
    parser.add_argument("--distinct-clients", type=int, default=3000, help="clients of the memory drill (0: none)")
    parser.add_argument("--releases", type=Path, default=Path("var/releases"))
    parser.add_argument("--model-version", default="v1.0.0")
    parser.add_argument("--state-dir", type=Path, default=Path("var/flood"), help="logs, caches, databases")
    arguments = parser.parse_args()

    release = ensure_release(arguments.releases, arguments.model_version, None)
    shutil.rmtree(arguments.state_dir, ignore_errors=True)
    print(f"flood: starting the system from {arguments.k8s_dir} (logs in {arguments.state_dir}/logs)", flush=True)
    stack = start_system(release, arguments.state_dir, arguments.k8s_dir)
    try:
        for target in ("api", "page"):
            stack.rebuild_mesh(arguments.k8s_dir)  # every bucket full
            before = reviews_served(stack)
            clients = asyncio.run(drill(stack, target, arguments.seconds))
            print_table(f"flood on the {target} host", clients, reviews_served(stack) - before, arguments.seconds)
        if arguments.distinct_clients:
            stack.rebuild_mesh(arguments.k8s_dir)
            start = envoy_allocated_bytes(stack)
            after = asyncio.run(distinct_clients(stack, arguments.distinct_clients))
            grown = after - start
            print(
                f"\nmemory: Envoy allocated {start / 1e6:.1f} MB, then {after / 1e6:.1f} MB after "
                f"{arguments.distinct_clients} distinct clients: {grown / arguments.distinct_clients:.0f} bytes each"
            )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
