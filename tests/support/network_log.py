"""What a page fetched, kept for the assertions of a browser test and for the log a failed step leaves."""

from dataclasses import dataclass

from playwright.sync_api import BrowserContext, Page, Request


@dataclass(frozen=True)
class Preflight:
    """A CORS preflight the browser sent before a call."""

    url: str
    status: int
    headers: dict[str, str]


class NetworkLog:
    """What a page fetched, in order, with the CORS preflights Playwright leaves out (DevTools reports them)."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.entries: list[Request | Preflight] = []
        self._settled: set[Request] = set()
        page.on("request", lambda request: self.entries.append(request))
        page.on("requestfinished", lambda request: self._settled.add(request))
        page.on("requestfailed", lambda request: self._settled.add(request))
        devtools = context.new_cdp_session(page)
        devtools.on("Network.responseReceived", self._note_preflight)
        devtools.send("Network.enable")

    @property
    def requests(self) -> list[Request]:
        return [entry for entry in self.entries if isinstance(entry, Request)]

    @property
    def preflights(self) -> list[Preflight]:
        return [entry for entry in self.entries if isinstance(entry, Preflight)]

    def text(self) -> str:
        return "".join(f"{self._describe(entry)}\n" for entry in self.entries)

    def _note_preflight(self, event: dict) -> None:
        if event["type"] == "Preflight":
            response = event["response"]
            headers = {name.lower(): value for name, value in response["headers"].items()}
            self.entries.append(Preflight(response["url"], response["status"], headers))

    def _describe(self, entry: Request | Preflight) -> str:
        """One line: what was asked, and what came back or why nothing did."""
        if isinstance(entry, Preflight):
            return f"OPTIONS {entry.url} (CORS preflight) -> {entry.status}"
        asked = f"{entry.method} {entry.url}"
        if entry not in self._settled:
            return f"{asked} -> no answer yet"
        if entry.failure:
            return f"{asked} -> failed: {entry.failure}"
        response = entry.response()
        assert response is not None
        return f"{asked} -> {response.status} ({response.headers.get('x-served-by', 'no x-served-by')})"
