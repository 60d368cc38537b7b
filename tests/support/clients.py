"""Apps in process, each started with its lifespan, all stopped when the test ends."""

import contextlib
from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient


@contextlib.contextmanager
def started_clients() -> Iterator[Callable[[FastAPI], TestClient]]:
    """start(app) gives a TestClient of the app, its lifespan entered; every one is closed at the end."""
    with contextlib.ExitStack() as clients:
        yield lambda app: clients.enter_context(TestClient(app))
