"""The per-visitor sums the experiment's delta method needs, as counters that only ever increase.

Visitors are the experiment's unit: per visitor (in one experiment and arm) M reviews, F
reviews with feedback and C corrections. The report needs, per arm, the visitors n, the sums
of M, F and C (reviews_submitted_total, user_feedback_total, user_corrections_total) and of
their squares and products (tools/src/experiment/visitors.py). A counter can hold a sum of
squares only as its increments: when a visitor's counts go from (M, F, C) to (M', F', C'),
Σ M² grows by M'² - M² (2k - 1 for their k-th review), Σ M C by M'C' - M C, and so on.

Each increment is computed from the visitor's counts as the store's write left them, read
and written in the same transaction as the review or the feedback they count (store.py): a
writer never computes from counts another writer is changing, in this process or another
replica, so the counters summed over every replica are exactly the sums over the store's rows.
"""

from collections.abc import Callable, Mapping

from prometheus_client import Counter

from app_service.store import VisitorCounts

# A review adds one review to its visitor's counts; a first feedback adds one feedback, and one correction when
# its label is not the predicted one.
ONE_REVIEW = VisitorCounts(reviews=1, feedback=0, corrections=0)


def one_feedback(corrected: bool) -> VisitorCounts:
    return VisitorCounts(reviews=0, feedback=1, corrections=int(corrected))


# Each sum by name (the report's VisitorSums fields), as a function of one visitor's counts.
SUMS: dict[str, Callable[[VisitorCounts], int]] = {
    "visitors": lambda v: int(v.reviews > 0),
    "reviews_squared": lambda v: v.reviews * v.reviews,
    "feedback_squared": lambda v: v.feedback * v.feedback,
    "corrections_squared": lambda v: v.corrections * v.corrections,
    "reviews_feedback": lambda v: v.reviews * v.feedback,
    "reviews_corrections": lambda v: v.reviews * v.corrections,
    "feedback_corrections": lambda v: v.feedback * v.corrections,
}


def increments(after: VisitorCounts, change: VisitorCounts) -> dict[str, int]:
    """How much each sum grows when one visitor's counts become `after` by `change`: never below zero."""
    before = VisitorCounts(
        after.reviews - change.reviews, after.feedback - change.feedback, after.corrections - change.corrections
    )
    return {name: of(after) - of(before) for name, of in SUMS.items()}


def add_to(counters: Mapping[str, Counter], after: VisitorCounts, change: VisitorCounts) -> None:
    for name, increment in increments(after, change).items():
        counters[name].inc(increment)
