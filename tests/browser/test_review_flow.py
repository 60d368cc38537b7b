"""The user's flow in a real Chromium, through Envoy compiled from k8s/: cookie, header, verdict, feedback.

The hand-off under test happens only in a browser: the mesh sets the
`app-version` cookie and the frontend the `visitor-id` cookie, the
server-rendered page reads them, and the page's script turns them into the
`X-App-Version` and `X-Visitor-Id` headers of a cross-origin call that needs a
CORS preflight. Every version named here comes from the answering service
itself, never from what the test asked for.
"""

import sqlite3
from contextlib import closing

import httpx
import pytest
from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import binom
from sentiment_devtools.system import ARMS
from support.mesh import declared_canary_share
from support.review_page import A_VERDICT

pytestmark = pytest.mark.slow

OPPOSITE = {"positive": "negative", "negative": "positive"}


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of a service's /metrics; 0 when it has not been counted yet."""
    for family in text_string_to_metric_families(httpx.get(f"{url}/metrics").text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def test_a_new_visitor_gets_a_cookie_and_a_verdict_from_the_version_it_names(new_visitor, stack):
    # Given a new visitor, with no cookie, on the page
    visitor = new_visitor()
    with visitor.step("open the page as a new visitor"):
        page = visitor.open()
        version = visitor.version_cookie()
        assert version in ARMS
        assert page.headers["x-served-by"] == f"app-frontend/{version}"
        visitor_id = visitor.visitor_id()
        assert visitor_id is not None
    visitor.capture("first-visit")

    # When they send a review
    with visitor.step("send a review"):
        visitor.send_review("The pasta was fresh and the staff were lovely.")
        expect(visitor.ui.verdict).to_have_text(A_VERDICT)

    # Then the gateway allowed the cross-origin call with X-App-Version and X-Visitor-Id in its preflight
    with visitor.step("find the CORS preflight"):
        (preflight,) = visitor.network.preflights
        assert preflight.url == f"{stack.api_url}/api/v1/sentiment"
        assert preflight.status == 200
        assert preflight.headers["access-control-allow-origin"] == stack.frontend_url
        assert "x-app-version" in preflight.headers["access-control-allow-headers"]
        assert "x-visitor-id" in preflight.headers["access-control-allow-headers"]

    # And the call carried the cookie's version as X-App-Version and the visitor's id, and that version answered
    # end to end
    with visitor.step("read the call to the app-service from the network log"):
        (call,) = visitor.api_calls("/api/v1/sentiment")
        assert call.all_headers()["x-app-version"] == version
        assert call.all_headers()["x-visitor-id"] == visitor_id
        answer = call.response()
        assert answer.status == 200
        assert answer.all_headers()["x-served-by"] == f"app-service/{version}"
        versions = answer.json()["versions"]
        assert (versions["app_service"], versions["model_service"]) == (version, version)
        expect(visitor.ui.footer).to_contain_text(f"app-service {version}, model-service {version}")
    assert visitor.errors_logged() == []


@pytest.mark.parametrize(("version", "shows_confidence"), [("canary", True), ("stable", False)])
def test_only_the_canary_shows_the_confidence(new_visitor, version, shows_confidence):
    # Given a visitor whose cookie names a version before their first visit
    visitor = new_visitor()
    visitor.set_version_cookie(version)

    # When they send a review
    with visitor.step(f"send a review on {version}"):
        assert visitor.open().headers["x-served-by"] == f"app-frontend/{version}"
        visitor.send_review("Wonderful sushi, we will come back!")
        expect(visitor.ui.verdict).to_have_text(A_VERDICT)

    # Then the confidence is shown on the canary only
    with visitor.step("look for the confidence"):
        if shows_confidence:
            expect(visitor.ui.confidence).to_be_visible()
        else:
            expect(visitor.ui.confidence).to_be_hidden()
        (call,) = visitor.api_calls("/api/v1/sentiment")
        assert call.response().all_headers()["x-served-by"] == f"app-service/{version}"
    visitor.capture(f"verdict-{version}")


@pytest.mark.parametrize("version", ARMS)
def test_a_corrected_verdict_is_confirmed_stored_and_counted_under_the_visitors_version(new_visitor, stack, version):
    # Given a visitor of one version who sees a verdict
    visitor = new_visitor()
    visitor.set_version_cookie(version)
    with visitor.step("send a review"):
        visitor.open()
        visitor.send_review("The soup was cold and the waiter was rude.")
        expect(visitor.ui.verdict).to_have_text(A_VERDICT)
        (call,) = visitor.api_calls("/api/v1/sentiment")
        review = call.response().json()
    app_service = stack.instance("app-service", version).url
    predicted, corrected = review["label"], OPPOSITE[review["label"]]
    counted = {"version": version, "original_label": predicted, "corrected_label": corrected}
    corrections_before = metric(app_service, "user_corrections_total", **counted)

    # When they say the verdict is wrong
    with visitor.step("correct the verdict"):
        visitor.ui.wrong.click()
        expect(visitor.ui.feedback_status).to_have_text(
            f"Thanks! We noted that your review is {corrected}; it helps us learn."
        )
        expect(visitor.ui.wrong).to_have_attribute("aria-pressed", "true")
    visitor.capture(f"feedback-corrected-{version}")

    # Then the feedback went to their version, which stored it with the review and its visitor, and counted it
    with visitor.step("read the feedback call from the network log"):
        (feedback,) = visitor.api_calls(f"/api/v1/reviews/{review['id']}/feedback")
        assert feedback.all_headers()["x-app-version"] == version
        assert feedback.post_data_json == {"label": corrected}
        assert feedback.response().all_headers()["x-served-by"] == f"app-service/{version}"
        assert feedback.response().json()["outcome"] == "corrected"
    database = stack.state_dir / f"app-service-{version}" / "reviews.db"
    with closing(sqlite3.connect(database)) as db:
        stored = db.execute(
            "SELECT predicted_label, feedback_label, app_version, visitor_id FROM reviews WHERE id = ?",
            (review["id"],),
        ).fetchone()
    assert stored == (predicted, corrected, version, visitor.visitor_id())
    assert metric(app_service, "user_corrections_total", **counted) == corrections_before + 1


def test_a_reload_keeps_the_visitor_on_their_version(new_visitor):
    # Given a new visitor who got a version on their first visit
    visitor = new_visitor()
    with visitor.step("open the page"):
        visitor.open()
        version = visitor.version_cookie()

    # When they reload the page twice, then send a review
    with visitor.step("reload twice"):
        reloads = [visitor.reload() for _ in range(2)]
    with visitor.step("send a review after reloading"):
        visitor.send_review("Great value, amazing dessert.")
        expect(visitor.ui.verdict).to_have_text(A_VERDICT)

    # Then the same version served every page and the review, and no new cookie was set
    for page in reloads:
        assert page.headers["x-served-by"] == f"app-frontend/{version}"
        assert "set-cookie" not in page.headers
    assert visitor.version_cookie() == version
    expect(visitor.ui.footer).to_contain_text(f"Version {version}")
    (call,) = visitor.api_calls("/api/v1/sentiment")
    assert call.all_headers()["x-app-version"] == version
    assert call.response().all_headers()["x-served-by"] == f"app-service/{version}"


def test_fifty_new_browsers_split_between_the_versions_as_a_10_percent_canary_would(new_visitor):
    """At most 13 of 50 on the canary: the binomial 99.9% interval for a 10% share is 0-13, so this fails
    once in 3,500 runs by chance, and catches a 50/50 split 99.95% of the time. It cannot ask for at least
    one canary: 50 visitors all land on stable one run in 200. That the canary is reached at all is
    proven by the routing tests (2,000 visitors) and the forced-canary tests here."""
    # Given 50 browsers that never visited: fresh contexts, no cookie
    served = []
    for number in range(50):
        visitor = new_visitor()
        # When each opens the page
        with visitor.step(f"visitor {number} opens the page"):
            version = visitor.open().headers["x-served-by"].removeprefix("app-frontend/")
            # Then its cookie names the version that served it
            assert visitor.version_cookie() == version
        served.append(version)
        visitor.close()

    # And the canary's share is plausible for the declared one
    low, high = binom.interval(0.999, len(served), declared_canary_share())
    canary = served.count("canary")
    assert low <= canary <= high, f"{canary} of {len(served)} on the canary; expected {low:.0f}-{high:.0f}"
    assert set(served) <= set(ARMS)
