"""The store's cost per review, in this process: a review's insert and its feedback, each with its visitor's counts.

`python -m bench.store_writes` writes 6,000 reviews of 50 visitors and their feedback to a SQLite file in a
temporary folder on var/'s disk (WAL, synchronous=NORMAL, as the service runs it), and prints the median and
the 90th percentile of the two writes together. docs/architecture.md quotes it.
"""

import statistics
import tempfile
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from app_service.store import NewReview, open_store

REVIEWS = 6_000
VISITORS = 50
VAR = Path(__file__).resolve().parents[1] / "var"


def completed(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """The SQLite store's methods (and open_store, for SQLite) never wait: run one to its end without an event
    loop, as the route would."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the store awaited something")


def main() -> int:
    VAR.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=VAR) as folder:
        store = completed(open_store(f"sqlite:///{Path(folder) / 'reviews.db'}"))
        seconds = []
        for number in range(REVIEWS):
            review = NewReview(
                f"review-{number}", "Lovely soup.", "positive", 0.9, "v1.0.0", "stable", "stable",
                visitor_id=f"visitor-{number % VISITORS}".ljust(22, "x"), experiment_id="confidence-display",
            )  # fmt: skip
            started = time.perf_counter()
            completed(store.add(review))
            completed(store.record_feedback(review.id, "negative"))
            seconds.append(time.perf_counter() - started)
        completed(store.close())
    seconds.sort()
    print(
        f"a review and its feedback, with the visitor's counts: median {statistics.median(seconds) * 1e3:.3f} ms, "
        f"p90 {seconds[int(len(seconds) * 0.9)] * 1e3:.3f} ms ({REVIEWS} reviews of {VISITORS} visitors)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
