"""What a visitor sees when something goes wrong: an empty review, the model-service down, the rate limit.

Each fault is real: a stopped process behind the real Envoy, a 429 from
Envoy's own rate limiter. Each test puts the system back as it found it.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect
from sentiment_devtools.stack.stack import LocalStack
from support.mesh import tight_rate_limits
from support.review_page import A_VERDICT

pytestmark = pytest.mark.slow


@contextmanager
def stopped(stack: LocalStack, name: str) -> Iterator[None]:
    """One process of the stack stopped for the block, started again and ready after it."""
    stack.supervisor.stop(name)
    try:
        yield
    finally:
        stack.supervisor.start(stack.supervisor.process(name))
        stack.supervisor.wait_ready(names=[name])


def test_an_empty_review_gets_an_inline_message_and_sends_nothing(new_visitor):
    # Given a visitor on the page
    visitor = new_visitor()
    with visitor.step("open the page"):
        visitor.open()

    # When they send nothing, then only spaces
    for review in ["", "   \n  "]:
        with visitor.step(f"send {review!r}"):
            visitor.send_review(review)

            # Then the box says why, holds the focus, and nothing was sent
            expect(visitor.ui.review_error).to_have_text("Write a review first: it cannot be empty.")
            expect(visitor.ui.review).to_have_attribute("aria-invalid", "true")
            expect(visitor.ui.review).to_be_focused()
    visitor.capture("empty-review")
    assert visitor.api_calls("/api/") == []

    # And the message goes once they write something
    with visitor.step("start writing"):
        visitor.ui.review.press_sequentially("Nice")
        expect(visitor.ui.review_error).to_be_hidden()
        expect(visitor.ui.review).to_have_attribute("aria-invalid", "false")


def test_with_the_model_service_down_the_page_says_so_and_works_again_once_it_is_back(new_visitor, stack):
    # Given a visitor of the stable version on the page
    visitor = new_visitor()
    visitor.set_version_cookie("stable")
    with visitor.step("open the page"):
        visitor.open()
    review = "The steak was perfect."

    # When they send a review while the stable model-service is down
    with stopped(stack, "model-service/stable"), visitor.step("send a review with the model-service down"):
        visitor.send_review(review)

        # Then the page says the service is unavailable, shows no verdict, and keeps the review
        expect(visitor.ui.alert).to_have_text(
            "The sentiment service is unavailable right now. Please try again in a moment."
        )
        expect(visitor.ui.verdict).to_be_hidden()
        expect(visitor.ui.review).to_have_value(review)
        expect(visitor.ui.analyse).to_be_enabled()
        (call,) = visitor.api_calls("/api/v1/sentiment")
        assert call.response().status == 503
    visitor.capture("model-service-down")
    with visitor.step("check the accessibility of the alert"):
        assert visitor.accessibility_report() == ""

    # And once the model-service is back, the same page gets its verdict
    with visitor.step("send the review again"):
        visitor.ui.analyse.click()
        expect(visitor.ui.verdict).to_have_text(A_VERDICT)
        expect(visitor.ui.alert).to_be_hidden()


def test_a_visitor_over_the_rate_limit_is_asked_to_slow_down(new_visitor, stack, tmp_path):
    with tight_rate_limits(stack, tmp_path, api_client=1):
        # Given a visitor whose first review used the only token of their bucket at the gateway
        visitor = new_visitor()
        with visitor.step("send a first review"):
            visitor.open()
            visitor.send_review("Lovely place, excellent pizza.")
            expect(visitor.ui.verdict).to_have_text(A_VERDICT)

        # When they send another at once
        with visitor.step("send a second review"):
            visitor.send_review("And the tiramisu!")

            # Then the gateway refuses it, and the page asks them to slow down and keeps their text
            expect(visitor.ui.alert).to_have_text("Too many requests: please slow down and try again in a few seconds.")
            expect(visitor.ui.review).to_have_value("And the tiramisu!")
            expect(visitor.ui.analyse).to_be_enabled()
            # With the first verdict gone, so is the line naming who answered it
            expect(visitor.ui.verdict).to_be_hidden()
            expect(visitor.ui.footer).not_to_contain_text("answered by", use_inner_text=True)
            refused = visitor.api_calls("/api/v1/sentiment")[-1].response()
            assert (refused.status, refused.headers["x-local-rate-limit"]) == (429, "true")
        visitor.capture("slow-down")
