"""A real Chromium on the review page, through the local mesh, as a person would use it.

Playwright drives the machine's own Chromium (Debian's `chromium`); nothing
ever downloads a browser. Each `Visitor` is a fresh browser context, so a new
person: no cookies, no cache, and (through its own SOCKS relay,
support/socks.py) a client address of its own, as the gateway counts
clients. It keeps what the page logged and fetched, so a failing step can
leave a screenshot, the console and the network log behind, and it saves
screenshots of the states a person looks at, desktop and phone.
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Playwright, Request, Response
from sentiment_devtools.checks.contract import VERSION_COOKIE, VISITOR_COOKIE
from sentiment_devtools.stack.stack import LocalStack

from support.mesh import REPO
from support.network_log import NetworkLog
from support.review_page import ReviewPage
from support.waiting import DEADLINE_SECONDS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",  # as root, Chromium will not start sandboxed
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # No calls home: the network here is closed, and every refused connection slows Chromium down.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

ARTIFACTS = REPO / "var" / "test-artifacts" / "browser"
SCREENSHOTS = ARTIFACTS / "screenshots"
FAILURES = ARTIFACTS / "failures"


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless; Playwright gives every launch a fresh, temporary profile."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


class Visitor:
    def __init__(
        self,
        browser: Browser,
        stack: LocalStack,
        failures_dir: Path,
        *,
        color_scheme: str = "light",
        proxy: str | None = None,
    ) -> None:
        """`proxy`: the SOCKS relay this person's browser connects through, from an address of its own."""
        self.frontend_url = f"{stack.frontend_url}/"
        self.api_url = stack.api_url
        self.failures_dir = failures_dir
        self.context = browser.new_context(
            viewport=VIEWPORTS["desktop"], color_scheme=color_scheme, proxy={"server": proxy} if proxy else None
        )
        self.context.set_default_timeout(DEADLINE_SECONDS * 1000)  # every action and navigation waits for its state
        self.page = self.context.new_page()
        self.ui = ReviewPage(self.page)
        self.network = NetworkLog(self.context, self.page)
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        self.page.on("pageerror", lambda error: self.console.append(f"uncaught: {error}"))

    def set_version_cookie(self, version: str) -> None:
        """As if an earlier visit had put this visitor on `version`."""
        self.context.add_cookies([{"name": VERSION_COOKIE, "value": version, "url": self.frontend_url}])

    def version_cookie(self) -> str | None:
        return self._cookie(VERSION_COOKIE)

    def visitor_id(self) -> str | None:
        """The visitor-id cookie's value: HttpOnly, so the browser keeps it from the page's script, not from us."""
        return self._cookie(VISITOR_COOKIE)

    def _cookie(self, name: str) -> str | None:
        cookies = self.context.cookies(self.frontend_url)
        return next((c["value"] for c in cookies if c["name"] == name), None)

    def open(self) -> Response:
        response = self.page.goto(self.frontend_url)
        assert response is not None
        return response

    def reload(self) -> Response:
        response = self.page.reload()
        assert response is not None
        return response

    def send_review(self, text: str) -> None:
        self.ui.review.fill(text)
        self.ui.analyse.click()

    def api_calls(self, path: str) -> list[Request]:
        """The page's calls to the app-service whose path starts with `path`; preflights are not among them."""
        return [r for r in self.network.requests if r.url.startswith(self.api_url + path)]

    def errors_logged(self) -> list[str]:
        return [line for line in self.console if line.startswith(("error:", "uncaught:"))]

    def capture(self, state: str) -> None:
        """Screenshots of the whole page as it is now, at each viewport: SCREENSHOTS/<state>-<viewport>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.mouse.move(0, 0)  # no hover left on the last button clicked
        for viewport, size in VIEWPORTS.items():
            self.page.set_viewport_size(size)
            self.page.screenshot(path=SCREENSHOTS / f"{state}-{viewport}.png", full_page=True, animations="disabled")
        self.page.set_viewport_size(VIEWPORTS["desktop"])

    def accessibility_report(self) -> str:
        """axe-core's findings on the page as it is now: empty when there is no violation."""
        results = Axe().run(self.page)
        return results.generate_report() if results.violations_count else ""

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """A named step of a test: when it fails, the failure names it and keeps what the browser saw."""
        try:
            yield
        except Exception as error:
            error.add_note(self._keep_evidence(name))
            raise

    def _keep_evidence(self, step: str) -> str:
        self.failures_dir.mkdir(parents=True, exist_ok=True)
        screenshot = self.failures_dir / f"{re.sub(r'[^a-z0-9]+', '-', step.lower()).strip('-')}.png"
        console = self.failures_dir / "console.log"
        network = self.failures_dir / "network.log"
        try:
            self.page.screenshot(path=screenshot, full_page=True)
        except Exception as error:  # a crashed page has no picture; say so rather than hide the step's failure
            screenshot = f"none ({error})"
        console.write_text("".join(f"{line}\n" for line in self.console))
        network.write_text(self.network.text())
        tail = "".join(f"\n    {line}" for line in self.console[-10:]) or " (empty)"
        return (
            f"browser step failed: {step}\n  screenshot:  {screenshot}\n  console log: {console}\n"
            f"  network log: {network}\n  console:{tail}"
        )

    def close(self) -> None:
        self.context.close()
