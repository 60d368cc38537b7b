"""Faults for tests, off by default, that make the system misbehave as a broken release would.

FAULT_DROP_FIRST_VISITS_SHARE: this arm answers that share of its first visits (a page
for a request with no valid app-version cookie) with a 503, and counts none of them:
a canary that fails first visits, whose visitors the split then re-assigns. The
assignments no longer follow the declared split, which the sample-ratio alert and
the experiment report must notice. Never set in a deployment.
"""

import random


def drops_first_visit(share: float) -> bool:
    """Whether this first visit is one of the share the fault drops."""
    return share > 0 and random.random() < share  # noqa: S311 -- a fault's coin toss, no secret
