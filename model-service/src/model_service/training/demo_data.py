"""A small synthetic corpus, for a demo model when the real data is out of reach.

It lets `make run` and the tests work with no network. A model trained on it
knows only these words: it is a demo, and the CLI says so loudly.
"""

import itertools

from model_service.integrity import sha256_bytes
from model_service.training.dataset import Dataset, format_tsv

_DISHES = ("pasta", "steak", "soup", "salad", "pizza", "burger", "sushi", "dessert")
_POSITIVE = ("delicious", "amazing", "wonderful", "fresh", "excellent", "tasty")
_NEGATIVE = ("bland", "awful", "cold", "disgusting", "terrible", "stale")
_POSITIVE_SERVICE = ("The staff was friendly.", "Service was quick!", "We will come back.")
_NEGATIVE_SERVICE = ("The waiter was rude.", "Service was slow.", "Never again.")


def demo_reviews() -> tuple[list[str], list[int]]:
    """Seventy-two labelled reviews, the same every time."""
    reviews: list[str] = []
    labels: list[int] = []
    combinations = itertools.product(_DISHES, zip(_POSITIVE, _NEGATIVE, strict=True))
    for index, (dish, (good, bad)) in enumerate(combinations):
        if index % 4 == 3:
            continue
        reviews.append(f"The {dish} was {good}. {_POSITIVE_SERVICE[index % 3]}")
        labels.append(1)
        reviews.append(f"The {dish} was {bad}. {_NEGATIVE_SERVICE[index % 3]}")
        labels.append(0)
    return reviews, labels


def demo_dataset() -> Dataset:
    reviews, labels = demo_reviews()
    digest = sha256_bytes(format_tsv(reviews, labels).encode())
    return Dataset(reviews, labels, sha256=digest, source="demo corpus (synthetic)")
