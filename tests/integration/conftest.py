"""Fixtures of the cross-service tests: the services as real processes (the model release: tests/conftest.py)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sentiment_devtools.system import ARMS
from support.services import ProcessGroup, Release, Stack, free_port, launch_stack


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[ProcessGroup]:
    """Start services with processes.start(package, **env) or .launch(); all are stopped afterwards."""
    group = ProcessGroup(tmp_path)
    yield group
    group.stop_all()


@pytest.fixture
def stack(processes: ProcessGroup, release: Release, tmp_path: Path) -> Stack:
    """The stable chain, for a test that may break it."""
    stack = launch_stack(processes, release, tmp_path)
    processes.wait_ready()
    return stack


@pytest.fixture(scope="module")
def shared_group(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProcessGroup]:
    group = ProcessGroup(tmp_path_factory.mktemp("shared-stack"))
    yield group
    group.stop_all()


@pytest.fixture(scope="module")
def shared_stacks(shared_group: ProcessGroup, release: Release, tmp_path_factory) -> dict[str, Stack]:
    """Both arms' chains, shared by the tests of a module that only read or add reviews.

    Both app-services allow both frontends' origins, as every version's configuration would list the frontend's.
    """
    data_dir = tmp_path_factory.mktemp("shared-data")
    ports = {version: free_port() for version in ARMS}
    origins = tuple(f"http://127.0.0.1:{port}" for port in ports.values())
    stacks = {
        version: launch_stack(shared_group, release, data_dir, version, port, origins)
        for version, port in ports.items()
    }
    shared_group.wait_ready()
    return stacks
