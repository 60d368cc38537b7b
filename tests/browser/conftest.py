"""One running system and one Chromium for every browser test; a fresh browser context per visitor.

The package scope (hence the `__init__.py`) stops both once the last browser
test has run, rather than at the end of the whole session.
"""

import itertools
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright
from sentiment_devtools.stack.stack import LocalStack
from support.browser import ARTIFACTS, CHROMIUM, FAILURES, Visitor, launch_chromium
from support.mesh import running_stack
from support.socks import socks_relays
from support.waiting import DEADLINE_SECONDS

# Playwright's `expect` polls for its state, for 5 s by default: too short for a loaded machine.
expect.set_options(timeout=DEADLINE_SECONDS * 1000)


@pytest.fixture(scope="session")
def artifacts() -> None:
    """What is left in var/test-artifacts/browser is this run's, once per session however the tests are ordered."""
    shutil.rmtree(ARTIFACTS, ignore_errors=True)


@pytest.fixture(scope="package")
def stack(release, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    with running_stack(release, tmp_path_factory.mktemp("browser-stack")) as stack:
        yield stack


@pytest.fixture(scope="package")
def browser(artifacts: None) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no {CHROMIUM}: `make system-deps` installs it (the Debian package chromium)")
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def visitor_addresses() -> Iterator[Iterator[str]]:
    """A SOCKS relay per visitor, from 127.0.2.1 on: every visitor of the package is a client of its own."""
    with socks_relays() as relays:
        yield (relays.relay_from(f"127.0.{2 + n // 250}.{n % 250 + 1}") for n in itertools.count())


@pytest.fixture
def new_visitor(
    browser: Browser, stack: LocalStack, visitor_addresses: Iterator[str], request: pytest.FixtureRequest
) -> Iterator[Callable[..., Visitor]]:
    """Make visitors, each a new person with their own browser context and address; all are closed afterwards."""
    failures_dir = FAILURES / re.sub(r"[^\w-]+", "-", request.node.name).strip("-")
    visitors: list[Visitor] = []

    def new(**options: str) -> Visitor:
        visitor = Visitor(browser, stack, failures_dir, proxy=next(visitor_addresses), **options)
        visitors.append(visitor)
        return visitor

    yield new
    for visitor in visitors:
        visitor.close()
