"""The review page as a person meets it: each control found by its role and accessible name."""

import re

from playwright.sync_api import Page

# What the verdict heading says, whichever the label: the demo model's guess is not the test's business.
A_VERDICT = re.compile(r"^(Positive|Negative)")


class ReviewPage:
    def __init__(self, page: Page) -> None:
        self.review = page.get_by_label("Your review")
        self.analyse = page.get_by_role("button", name="Analyse review")
        self.count = page.locator("#review-count")
        self.review_error = page.locator("#review-error")
        self.alert = page.get_by_role("alert")
        self.verdict = page.get_by_role("heading", level=2)
        self.confidence = page.get_by_text(re.compile(r"^Confidence \d+%$"))
        self.correct = page.get_by_role("button", name="Correct", exact=True)
        self.wrong = page.get_by_role("button", name="Wrong", exact=True)
        self.feedback_status = page.get_by_role("status")
        self.footer = page.get_by_role("contentinfo")
