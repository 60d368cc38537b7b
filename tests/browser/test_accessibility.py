"""The page for people who use a keyboard or a screen reader: focus order, names, and axe-core's rules.

axe-core comes bundled in the PyPI package axe-playwright-python (pinned in
requirements-dev.txt), so no browser or npm download is involved; it runs
inside the page as the visitor sees it, with every rule it has on by default.
"""

import re

import pytest
from playwright.sync_api import expect
from support.browser import VIEWPORTS

pytestmark = pytest.mark.slow


def test_the_whole_flow_works_with_the_keyboard_alone(new_visitor):
    # Given a visitor on the page who uses no mouse
    visitor = new_visitor()
    visitor.set_version_cookie("canary")
    keyboard = visitor.page.keyboard
    with visitor.step("open the page"):
        visitor.open()

    # When they tab to the box, type, tab to the button and press Enter
    with visitor.step("tab to the review box and type"):
        keyboard.press("Tab")
        expect(visitor.ui.review).to_be_focused()
        keyboard.type("The curry was superb and the service quick.")
    with visitor.step("tab to the button and press Enter"):
        keyboard.press("Tab")
        expect(visitor.ui.analyse).to_be_focused()
        keyboard.press("Enter")

        # Then the verdict appears and takes the focus, so it is read out
        expect(visitor.ui.verdict).to_be_focused()

    # And from there Tab reaches both feedback buttons, and Enter on "Wrong" sends the correction
    with visitor.step("tab to the feedback buttons and press Enter on Wrong"):
        keyboard.press("Tab")
        expect(visitor.ui.correct).to_be_focused()
        keyboard.press("Tab")
        expect(visitor.ui.wrong).to_be_focused()
        keyboard.press("Enter")
        expect(visitor.ui.feedback_status).to_have_text(re.compile(r"^Thanks! We noted that your review is "))
        # The buttons are disabled now: the focus stays on the confirmation rather than falling to the page
        expect(visitor.ui.feedback_status).to_be_focused()
    visitor.capture("keyboard-feedback-sent")


def test_ctrl_enter_in_the_review_box_sends_the_review(new_visitor):
    visitor = new_visitor()
    with visitor.step("type a review and press Ctrl+Enter"):
        visitor.open()
        visitor.ui.review.press_sequentially("Cold fries, rude waiter.")
        visitor.ui.review.press("Control+Enter")
        expect(visitor.ui.verdict).to_be_focused()


def test_the_page_has_a_title_a_language_and_a_name_for_every_control(new_visitor):
    visitor = new_visitor()
    with visitor.step("open the page"):
        visitor.open()

    expect(visitor.page).to_have_title("Sentiment Canary: how was your meal?")
    expect(visitor.page.locator("html")).to_have_attribute("lang", "en")
    expect(visitor.page.get_by_role("heading", level=1)).to_have_text("Sentiment Canary")
    expect(visitor.ui.review).to_have_accessible_name("Your review")
    expect(visitor.ui.review).to_have_accessible_description(
        "The food, the service, the place: anything goes. Ctrl+Enter sends it. 0 / 5000"
    )
    expect(visitor.ui.analyse).to_have_accessible_name("Analyse review")


def test_on_a_phone_the_form_is_shown_in_its_reading_order(new_visitor):
    """Box, counter, button, one under the other: what the eye sees follows what a screen reader reads."""
    visitor = new_visitor()
    with visitor.step("open the page on a phone"):
        visitor.page.set_viewport_size(VIEWPORTS["phone"])
        visitor.open()

    box, count, button = (item.bounding_box() for item in (visitor.ui.review, visitor.ui.count, visitor.ui.analyse))
    assert box["y"] + box["height"] <= count["y"]
    assert count["y"] + count["height"] <= button["y"]


@pytest.mark.parametrize("color_scheme", ["light", "dark"])
def test_axe_finds_no_accessibility_violation_in_any_state_of_the_page(new_visitor, color_scheme):
    # Given a canary visitor (the richest page: it shows the confidence) in a light or dark scheme
    visitor = new_visitor(color_scheme=color_scheme)
    visitor.set_version_cookie("canary")
    reports = {}

    # When they go through every state of the page that needs no fault
    with visitor.step("open the page"):
        visitor.open()
    reports["new page"] = visitor.accessibility_report()
    with visitor.step("send an empty review"):
        visitor.send_review("")
        expect(visitor.ui.review_error).to_be_visible()
    reports["empty review"] = visitor.accessibility_report()
    with visitor.step("send a review"):
        visitor.send_review("Fresh, tasty and quick service.")
        expect(visitor.ui.confidence).to_be_visible()
    reports["verdict with confidence"] = visitor.accessibility_report()
    with visitor.step("confirm the verdict"):
        visitor.ui.correct.click()
        expect(visitor.ui.feedback_status).to_have_text("Thanks! Glad we got it right.")
    reports["feedback sent"] = visitor.accessibility_report()
    visitor.capture(f"feedback-confirmed-{color_scheme}")

    # Then axe-core finds no violation in any of them
    assert {state: report for state, report in reports.items() if report} == {}
