"""The review page: what it tells its script, what it loads, the version cookie and the visitor id."""

import re
from html.parser import HTMLParser

import pytest

API_URL = "http://app-service.test:8201"
VISITOR_COOKIE = re.compile(r"visitor-id=([A-Za-z0-9_-]{22}); HttpOnly; Max-Age=2592000; Path=/; SameSite=lax")
AN_ID = "AbCdEfGhIjKlMnOpQrSt_-"


class PageData(HTMLParser):
    """The data attributes of #app and every URL the page loads."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.app: dict[str, str | None] = {}
        self.loads: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if attributes.get("id") == "app":
            self.app = attributes
        for name in ("src", "href"):
            if url := attributes.get(name):
                self.loads.append(url)


def set_cookies(response, name: str = "app-version") -> list[str]:
    """The Set-Cookie headers of the answer for the cookie `name`."""
    return [cookie for cookie in response.headers.get_list("set-cookie") if cookie.startswith(f"{name}=")]


def test_the_page_tells_its_script_the_api_url_the_version_and_the_flag(make_client):
    response = make_client(app_version="canary", show_confidence=True).get("/")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = PageData(response.text)
    assert page.app["data-api-url"] == API_URL
    assert page.app["data-app-version"] == "canary"
    assert page.app["data-show-confidence"] == "true"
    assert response.headers["x-served-by"] == "app-frontend/canary"


def test_the_confidence_flag_is_off_by_default(client):
    assert PageData(client.get("/").text).app["data-show-confidence"] == "false"


def test_everything_the_page_loads_comes_from_its_own_static_files(client):
    page = PageData(client.get("/").text)

    assert page.loads, "the page loads no CSS or JS?"
    for url in page.loads:
        assert re.fullmatch(r"/static/[\w.-]+\?v=[0-9a-f]{12}", url), url
        assert client.get(url).status_code == 200, url


def test_the_page_may_only_talk_to_its_own_origin_and_the_api(client):
    policy = client.get("/").headers["content-security-policy"]

    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert f"connect-src {API_URL};" in policy


def test_a_first_time_visitor_gets_exactly_one_cookie_for_this_version(make_client):
    response = make_client(app_version="canary").get("/")

    assert set_cookies(response) == ["app-version=canary; Max-Age=2592000; Path=/; SameSite=lax"]
    assert PageData(response.text).app["data-app-version"] == "canary"


@pytest.mark.parametrize("cookie_version", ["stable", "canary"])
def test_a_valid_cookie_decides_the_version_the_page_sends_and_is_not_set_again(make_client, cookie_version):
    client = make_client(app_version="canary")
    client.cookies.set("app-version", cookie_version)

    response = client.get("/")

    assert set_cookies(response) == []
    assert PageData(response.text).app["data-app-version"] == cookie_version


@pytest.mark.parametrize(
    ("name", "value"), [("app-version", "canaryX"), ("app-version", ""), ("xapp-version", "canary")]
)
def test_an_invalid_or_lookalike_cookie_counts_as_none(make_client, name, value):
    client = make_client(app_version="stable")
    client.cookies.set(name, value)

    response = client.get("/")

    assert PageData(response.text).app["data-app-version"] == "stable"
    assert set_cookies(response) == ["app-version=stable; Max-Age=2592000; Path=/; SameSite=lax"]


def test_behind_the_mesh_the_frontend_never_sets_the_cookie(make_client):
    response = make_client(app_version="canary", set_version_cookie=False).get("/")

    assert set_cookies(response) == []
    assert PageData(response.text).app["data-app-version"] == "canary"


def test_the_page_is_never_cached_across_visitors(client):
    headers = client.get("/").headers

    assert headers["cache-control"] == "no-store"
    assert headers["vary"] == "Cookie"


def test_api_url_text_is_escaped_into_the_page(make_client):
    response = make_client(app_service_public_url='http://api.test/"><script>alert(1)</script>').get("/")

    assert "<script>alert(1)</script>" not in response.text


def test_hashed_static_urls_may_be_cached_for_good_and_others_briefly(client):
    hashed = next(url for url in PageData(client.get("/").text).loads if "app.js" in url)

    assert client.get(hashed).headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get(hashed).headers["content-type"].startswith("text/javascript")
    assert client.get("/static/app.js?v=stale").headers["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize("path", ["/static/nothing.js", "/static/..%2Fapp.py", "/static/%2e%2e/routes.py"])
def test_only_the_pages_own_files_are_served(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("set_version_cookie", [True, False])
def test_a_new_visitor_gets_a_random_id_in_a_cookie_of_its_own_and_in_the_page(make_client, set_version_cookie):
    # Behind the mesh too: Istio sets only the arm's cookie
    client = make_client(set_version_cookie=set_version_cookie)

    response = client.get("/")

    [cookie] = set_cookies(response, "visitor-id")
    visitor_id = VISITOR_COOKIE.fullmatch(cookie).group(1)
    assert PageData(response.text).app["data-visitor-id"] == visitor_id


def test_every_new_visitor_gets_another_id(make_client):
    client = make_client()
    ids = set()
    for _ in range(20):
        client.cookies.clear()
        ids.add(PageData(client.get("/").text).app["data-visitor-id"])

    assert len(ids) == 20


@pytest.mark.parametrize("version_cookie", [None, "stable"])
def test_a_visitor_with_an_id_keeps_it_and_gets_no_new_cookie(client, version_cookie):
    client.cookies.set("visitor-id", AN_ID)
    if version_cookie:
        client.cookies.set("app-version", version_cookie)

    response = client.get("/")

    assert set_cookies(response, "visitor-id") == []
    assert PageData(response.text).app["data-visitor-id"] == AN_ID


@pytest.mark.parametrize("value", ["", "short", AN_ID + "x", AN_ID[:-1] + "=", '"><script>alert(1)</script>'])
def test_a_cookie_that_holds_no_id_is_replaced_and_never_echoed(client, value):
    client.cookies.set("visitor-id", value)

    response = client.get("/")

    [cookie] = set_cookies(response, "visitor-id")
    visitor_id = VISITOR_COOKIE.fullmatch(cookie).group(1)
    assert PageData(response.text).app["data-visitor-id"] == visitor_id
    assert "<script>alert(1)" not in response.text
