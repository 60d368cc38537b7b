"""The gateway's rate limits, proven through the real Envoy compiled from k8s/, clients on addresses of their own.

Each client binds its socket to its own loopback address (127.0.0.2, 127.0.0.3,
...), so the gateway sees them as the distinct clients they stand for. Counts
are certain, whatever the machine's speed: each test either rebuilds Envoy
with small buckets that do not refill during the test (`tight_rate_limits`),
or stays, with the shipped limits, within the bursts of freshly started
buckets.
"""

import asyncio
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable

import pytest
from sentiment_devtools.system import FRONTEND_HOST, PUBLIC_HOSTS
from support.mesh import (
    REPO,
    Mesh,
    Visit,
    app_service_requests,
    client_bucket,
    rate_limit_of,
    shipped_rate_limits,
    tight_rate_limits,
)
from support.waiting import DEADLINE_SECONDS

pytestmark = pytest.mark.slow

# The API call the floods use: answered by the app-service itself, which counts it.
API_CALL = "/api/v1/version"
FLOOD_CONNECTIONS = 32
# A bound on any flood, so that a broken limit fails the test instead of flooding forever.
MOST_FLOOD_REQUESTS = 20_000


async def in_mesh(sources: tuple[str, ...], stack, act: Callable[[Mesh], Awaitable]) -> object:
    mesh = Mesh(stack, sources)
    try:
        return await act(mesh)
    finally:
        await mesh.close()


def forged_forwarded_for(count: int) -> str:
    """A different X-Forwarded-For for every request: 10.x.y.z."""
    return f"10.{count >> 16 & 255}.{count >> 8 & 255}.{count & 255}"


class Flood:
    """One client sending as fast as FLOOD_CONNECTIONS connections allow, each request naming another forged
    client in X-Forwarded-For, until told to stop; `refused` is set at its first 429."""

    def __init__(self, mesh: Mesh, send: Callable[[Mesh, dict], Awaitable[Visit]]) -> None:
        self.mesh = mesh
        self.send = send
        self.answers: list[Visit] = []
        self.refused = asyncio.Event()
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await asyncio.gather(*(self._connection() for _ in range(FLOOD_CONNECTIONS)))

    async def _connection(self) -> None:
        while not self.stop.is_set() and len(self.answers) < MOST_FLOOD_REQUESTS:
            answer = await self.send(self.mesh, {"x-forwarded-for": forged_forwarded_for(len(self.answers))})
            self.answers.append(answer)
            if answer.status == 429:
                self.refused.set()

    async def until_refused(self) -> None:
        try:
            await asyncio.wait_for(self.refused.wait(), DEADLINE_SECONDS)
        except TimeoutError:
            raise AssertionError(f"the flood met no 429 in {DEADLINE_SECONDS:g}s: {statuses(self.answers)}") from None


def statuses(answers: list[Visit]) -> Counter:
    return Counter(answer.status for answer in answers)


def assert_refused_by_the_gateway(answer: Visit) -> None:
    """A 429 of the gateway's own, that says so and when to try again; no service saw the request."""
    assert answer.status == 429, answer
    assert answer.headers["x-local-rate-limit"] == "true"
    assert answer.headers["retry-after"] == "1"
    assert answer.served_by is None


def flood_the_api(mesh: Mesh, headers: dict) -> Awaitable[Visit]:
    return mesh.api("GET", API_CALL, headers=headers)


def flood_the_page(mesh: Mesh, headers: dict) -> Awaitable[Visit]:
    return mesh.get(FRONTEND_HOST, "/", headers)


async def calls(mesh: Mesh, count: int) -> list[Visit]:
    """`count` API calls, one after the other."""
    return [await mesh.api("GET", API_CALL) for _ in range(count)]


async def page_load(mesh: Mesh) -> list[Visit]:
    """The page and the files a browser fetches with it: its stylesheet, script and icon."""
    page = await mesh.page()
    files = sorted(set(re.findall(r'(?:href|src)="(/static/[^"]+)"', page.body.decode())))
    return [page, *[await mesh.get(FRONTEND_HOST, path) for path in files]]


def test_a_client_over_its_bucket_gets_429_readable_by_the_page_while_its_page_still_loads(stack, tmp_path):
    # Given the limits of k8s/ with a client's API bucket of 5 tokens that does not refill during the test
    with tight_rate_limits(stack, tmp_path, api_client=5):
        # When one client sends 10 CORS preflights, then 20 API calls, and then loads the page
        async def act(mesh):
            preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
            preflights = [await mesh.api("OPTIONS", "/api/v1/sentiment", headers=preflight) for _ in range(10)]
            return mesh, preflights, await calls(mesh, 20), await mesh.page("app-version=stable")

        mesh, preflights, answers, page = asyncio.run(in_mesh(("127.0.0.2",), stack, act))

    # Then the gateway answers the preflights itself, for no token
    assert [a.status for a in preflights] == [200] * 10
    assert all(a.headers["access-control-allow-origin"] == mesh.frontend_origin for a in preflights)
    # And 5 calls get through and 15 are refused by the gateway with 429, readable by the page (CORS)
    assert [a.status for a in answers] == [200] * 5 + [429] * 15
    for refused in answers[5:]:
        assert_refused_by_the_gateway(refused)
        assert refused.headers["access-control-allow-origin"] == mesh.frontend_origin
    # And the page has a bucket of its own
    assert page.status == 200


def test_a_flood_with_forged_forwarded_for_from_one_address_leaves_another_user_all_their_answers(stack, tmp_path):
    # Given buckets that do not refill: 10 requests per client, 30 for all clients together
    with tight_rate_limits(stack, tmp_path, api_client=10, api_global=30):
        served_before = app_service_requests(stack, API_CALL)

        # When a client on 127.0.0.2 floods the API on 32 connections, each request with another forged
        # X-Forwarded-For, and, once it is refused, an ordinary user on 127.0.0.3 makes 10 calls
        async def act():
            flooder, user = Mesh(stack, ("127.0.0.2",)), Mesh(stack, ("127.0.0.3",))
            flood = Flood(flooder, flood_the_api)
            try:
                flooding = asyncio.create_task(flood.run())
                await flood.until_refused()
                answers = await calls(user, 10)
                flood.stop.set()
                await flooding
                return flooder, flood.answers, answers
            finally:
                await flooder.close()
                await user.close()

        flooder, flood_answers, user_answers = asyncio.run(act())
        served = app_service_requests(stack, API_CALL) - served_before

    # Then the user got every answer (at least 99% is the goal)
    user_seen = statuses(user_answers)
    assert user_seen == {200: 10}, user_seen
    # And the flooder got its own bucket's 10, however it named itself, and 429s from the gateway after
    flood_seen = statuses(flood_answers)
    assert flood_seen[200] == 10, flood_seen
    assert flood_seen[429] == len(flood_answers) - 10 > 0, flood_seen
    for refused in (a for a in flood_answers if a.status == 429):
        assert_refused_by_the_gateway(refused)
        assert refused.headers["access-control-allow-origin"] == flooder.frontend_origin
    # And the app-service answered exactly what the clients were given, within the global bucket
    assert served == 10 + 10 <= 30, served


def test_many_clients_together_get_no_more_than_the_global_bucket_which_is_all_the_app_service_sees(stack, tmp_path):
    # Given buckets that do not refill: 10 requests per client, 30 for all clients together
    with tight_rate_limits(stack, tmp_path, api_client=10, api_global=30):
        served_before = app_service_requests(stack, API_CALL)

        # When 8 clients each send 10 calls at once, each within its own bucket
        async def client(address):
            return await in_mesh((address,), stack, lambda mesh: asyncio.gather(*(calls(mesh, 1) for _ in range(10))))

        async def act():
            return await asyncio.gather(*(client(f"127.0.3.{n}") for n in range(1, 9)))

        answers = [a for per_client in asyncio.run(act()) for batch in per_client for a in batch]
        served = app_service_requests(stack, API_CALL) - served_before

    # Then the global bucket let exactly 30 through and the gateway refused the other 50
    assert statuses(answers) == {200: 30, 429: 50}, statuses(answers)
    # And the app-service itself answered those 30 and no more
    assert served == 30, served


def test_ten_people_at_their_fastest_are_never_limited_by_the_shipped_limits(stack):
    # Given the limits of k8s/ as shipped, in an Envoy started afresh (every bucket full)
    stack.rebuild_mesh(REPO / "k8s")

    # When ten people, each on an address of their own, at once and as fast as the system answers, load the
    # page with its files, send five reviews each with its correction, and load the page again
    async def person(mesh):
        answers = await page_load(mesh)
        for review in range(5):
            verdict = await mesh.api("POST", "/api/v1/sentiment", json={"review": f"A lovely dinner, number {review}."})
            assert verdict.status == 200, verdict
            feedback = f"/api/v1/reviews/{json.loads(verdict.body)['id']}/feedback"
            answers += [verdict, await mesh.api("POST", feedback, json={"label": "positive"})]
        return answers + await page_load(mesh)

    async def act():
        return await asyncio.gather(*(in_mesh((f"127.0.4.{n}",), stack, person) for n in range(1, 11)))

    sessions = asyncio.run(act())

    # Then none of their requests was refused: a service answered every one
    for session in sessions:
        assert statuses(session) == {200: len(session)}, statuses(session)
    # Certain, not a race: a person's session, faster than any person sends it, fits the shipped bursts
    limits = shipped_rate_limits()
    api, page = rate_limit_of(limits, PUBLIC_HOSTS["app-service"]), rate_limit_of(limits, PUBLIC_HOSTS["app-frontend"])
    api_calls = [sum(a.served_by.startswith("app-service/") for a in session) for session in sessions]
    page_requests = [sum(a.served_by.startswith("app-frontend/") for a in session) for session in sessions]
    assert max(api_calls) <= client_bucket(api)["max_tokens"], api_calls
    assert sum(api_calls) <= api["token_bucket"]["max_tokens"], api_calls
    assert max(page_requests) <= client_bucket(page)["max_tokens"], page_requests


def test_a_flood_on_the_page_host_is_refused_there_while_api_users_and_readers_keep_their_answers(stack, tmp_path):
    # Given the page's bucket per client of 20 that does not refill, the API's limits as shipped, every bucket full
    with tight_rate_limits(stack, tmp_path, page_client=20):
        # When a client on 127.0.0.4 floods the page host on 32 connections with forged X-Forwarded-For, and,
        # once it is refused, three API users make 10 calls each and a reader on 127.0.0.5 loads the page
        async def act():
            flooder = Mesh(stack, ("127.0.0.4",))
            api_users = [Mesh(stack, (f"127.0.5.{n}",)) for n in range(1, 4)]
            reader = Mesh(stack, ("127.0.0.5",))
            flood = Flood(flooder, flood_the_page)
            try:
                flooding = asyncio.create_task(flood.run())
                await flood.until_refused()
                api_answers = await asyncio.gather(*(calls(user, 10) for user in api_users))
                page_answers = await page_load(reader)
                flood.stop.set()
                await flooding
                return flood.answers, [a for answers in api_answers for a in answers], page_answers
            finally:
                for mesh in (flooder, *api_users, reader):
                    await mesh.close()

        flood_answers, api_answers, page_answers = asyncio.run(act())

    # Then every API call was answered, and so was the reader's page with its files
    assert statuses(api_answers) == {200: 30}, statuses(api_answers)
    assert statuses(page_answers) == {200: len(page_answers)}, statuses(page_answers)
    # And the flooder got its 20 pages and the gateway's 429s after
    flood_seen = statuses(flood_answers)
    assert flood_seen[200] == 20, flood_seen
    assert flood_seen[429] == len(flood_answers) - 20 > 0, flood_seen
    for refused in (a for a in flood_answers if a.status == 429):
        assert_refused_by_the_gateway(refused)


def test_behind_one_trusted_proxy_each_client_it_names_has_a_bucket_and_a_forged_prefix_buys_none(stack, tmp_path):
    # Given numTrustedProxies 1 (a load balancer in front, appending the client it saw) and client buckets of 3
    with tight_rate_limits(stack, tmp_path, api_client=3, trusted_proxies=1):
        # When the load balancer, on 127.0.0.6, forwards 5 calls of each of two clients, the first one's
        # with another forged address before its own every time
        async def act(mesh):
            first = [
                await mesh.api("GET", API_CALL, headers={"x-forwarded-for": f"{forged_forwarded_for(n)}, 203.0.113.1"})
                for n in range(5)
            ]
            second = [await mesh.api("GET", API_CALL, headers={"x-forwarded-for": "203.0.113.2"}) for _ in range(5)]
            return first, second

        first, second = asyncio.run(in_mesh(("127.0.0.6",), stack, act))

    # Then each client named by the load balancer got its own 3, and the forged addresses bought nothing
    assert [a.status for a in first] == [200] * 3 + [429] * 2
    assert [a.status for a in second] == [200] * 3 + [429] * 2
