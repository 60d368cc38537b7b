"""Sentiment-lexicon augmentation: extra one-word training examples.

900 reviews cover few of the words people use to praise or pan a meal, so a
review saying "gross" or "boring" may hold no word the model has seen. The
VADER lexicon (Hutto & Gilbert, 2014; MIT licence, shipped in the
`vaderSentiment` package) rates 7,500 words by human-judged valence. Each
clearly polar word becomes a one-word training example, labelled by its sign.
Only training folds ever get these examples; evaluation is on real reviews.
This lifts 10-fold accuracy from about 0.835 to 0.85 on the public data.
"""

import re
from dataclasses import dataclass
from importlib import resources

from model_service.integrity import sha256_bytes

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class Lexicon:
    words: list[str]
    labels: list[int]
    sha256: str


def load_lexicon(min_abs_valence: float) -> Lexicon:
    data = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_bytes()
    words: list[str] = []
    labels: list[int] = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        token, valence, *_ = line.split("\t")
        if _WORD.fullmatch(token) and abs(float(valence)) >= min_abs_valence:
            words.append(token)
            labels.append(int(float(valence) > 0))
    return Lexicon(words=words, labels=labels, sha256=sha256_bytes(data))
