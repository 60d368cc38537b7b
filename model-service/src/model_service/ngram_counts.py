"""A fitted vectorizer's n-gram counts, exactly as CountVectorizer computes them, many times faster.

scikit-learn builds a review's n-grams one Python string at a time and looks
each up in the vocabulary: for character 1-5 grams that is ~300 strings per
review, nearly all of the model's time. Here character n-grams are counted by
an automaton instead: one state per prefix of a vocabulary n-gram, one
transition per (state, character), a dead state for everything else. NumPy
steps every position of every review through it at once; after n steps the
state at a position is the n-gram starting there, or dead. Other analyzers
(words, where a review has ~20 n-grams) keep scikit-learn's own analyzer and
only look the n-grams up at C speed.

Either way the result is a count per (review, feature), in ascending feature
order within a review, as scikit-learn's CSR rows hold them; the tests compare
the matrices with CountVectorizer's.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

# scikit-learn's own whitespace normalisation before character n-grams.
_WHITE_SPACES = re.compile(r"\s\s+")
# Past this many transitions (states x alphabet, 4 bytes each: 64 MiB) the automaton is not built.
MAX_TRANSITIONS = 1 << 24


class CharAutomaton:
    """Character n-grams (analyzer="char") of one vectorizer's vocabulary, as an automaton."""

    def __init__(self, vectorizer: TfidfVectorizer, alphabet: list[str], prefixes: list[str]) -> None:
        self._preprocess = vectorizer.build_preprocessor()
        self._min_n, self._max_n = vectorizer.ngram_range
        # Symbol 0: a character no vocabulary term holds, and the gap between two reviews.
        self._symbols = len(alphabet) + 1
        symbol_of = {char: symbol for symbol, char in enumerate(alphabet, start=1)}
        self._symbol_of_code_point = np.zeros(max(map(ord, alphabet), default=0) + 1, dtype=np.int32)
        self._symbol_of_code_point[[ord(char) for char in alphabet]] = np.arange(1, self._symbols)
        # State 0 is dead, state 1 the empty prefix; then one state per longer prefix.
        state_of = {prefix: state for state, prefix in enumerate(prefixes, start=2)}
        state_of[""] = 1
        self._transitions = np.zeros((len(prefixes) + 2) * self._symbols, dtype=np.int32)
        for prefix in prefixes:
            self._transitions[state_of[prefix[:-1]] * self._symbols + symbol_of[prefix[-1]]] = state_of[prefix]
        self._feature_of_state = np.full(len(prefixes) + 2, -1, dtype=np.int64)
        for term, feature in vectorizer.vocabulary_.items():
            self._feature_of_state[state_of[term]] = feature

    @classmethod
    def build(cls, vectorizer: TfidfVectorizer) -> "CharAutomaton | None":
        """The automaton, or None for another analyzer or a vocabulary too large for it."""
        if vectorizer.analyzer != "char":
            return None
        alphabet = sorted({char for term in vectorizer.vocabulary_ for char in term})
        prefixes = sorted({term[:end] for term in vectorizer.vocabulary_ for end in range(1, len(term) + 1)})
        if (len(prefixes) + 2) * (len(alphabet) + 1) > MAX_TRANSITIONS:
            return None
        return cls(vectorizer, alphabet, prefixes)

    def hits(self, reviews: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(review index, feature) of every vocabulary n-gram occurrence, in no particular order."""
        texts = [self._text(review) for review in reviews]
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        review_at = np.repeat(np.arange(len(texts)), lengths + 1)
        reviews_hit, features_hit = [], []
        for starts, features in self._features_by_start("\n".join(texts), np.cumsum(lengths + 1) - 1):
            found = features >= 0
            reviews_hit.append(review_at[:starts][found])
            features_hit.append(features[found])
        return np.concatenate(reviews_hit), np.concatenate(features_hit)

    def counts(self, review: str) -> tuple[np.ndarray, np.ndarray]:
        """One review's features in ascending order, and how often each occurs."""
        text = self._text(review)
        features = np.concatenate([found for _, found in self._features_by_start(text, [len(text)])])
        return np.unique(features[features >= 0], return_counts=True)

    def _text(self, review: str) -> str:
        return _WHITE_SPACES.sub(" ", self._preprocess(review))

    def _features_by_start(self, text: str, separators) -> Iterator[tuple[int, np.ndarray]]:
        """For each n: how many start positions, and the feature of the n-gram at each (-1: none).

        `text` holds the reviews joined by one character each, at the positions `separators`;
        one more follows the last review.
        """
        code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        symbols = np.zeros(len(code_points) + 1, dtype=np.int32)
        known = code_points < len(self._symbol_of_code_point)
        symbols[:-1][known] = self._symbol_of_code_point[code_points[known]]
        symbols[separators] = 0  # no n-gram spans two reviews
        states = np.ones(len(symbols), dtype=np.int32)
        for n in range(1, self._max_n + 1):
            starts = len(symbols) - n + 1
            states = self._transitions[states[:starts] * self._symbols + symbols[n - 1 :]]
            if n >= self._min_n:
                yield starts, self._feature_of_state[states]


class AnalyzerCounter:
    """Any other vectorizer: its n-grams as scikit-learn makes them, looked up at C speed."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        self._words = WordNgrams.build(vectorizer)
        self._analyze = self._words.analyze if self._words else vectorizer.build_analyzer()
        self._vocabulary = {term: int(feature) for term, feature in vectorizer.vocabulary_.items()}

    def hits(self, reviews: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._words:
            return self._words.hits(reviews, self._vocabulary)
        lookup = self._vocabulary.get
        per_review = [list(map(lookup, self._analyze(review), repeat(-1))) for review in reviews]
        features = np.fromiter(chain.from_iterable(per_review), dtype=np.int64)
        review_at = np.repeat(np.arange(len(reviews)), [len(found) for found in per_review])
        found = features >= 0
        return review_at[found], features[found]

    def counts(self, review: str) -> tuple[np.ndarray, np.ndarray]:
        counts = Counter(map(self._vocabulary.get, self._analyze(review)))
        counts.pop(None, None)
        features = sorted(counts)
        return np.array(features, dtype=np.int64), np.array([counts[feature] for feature in features], dtype=np.int64)


@dataclass(frozen=True)
class WordNgrams:
    """scikit-learn's word n-grams (no stop words), joined by map and zip instead of a Python loop per n-gram."""

    preprocess: Callable[[str], str]
    tokenize: Callable[[str], list[str]]
    min_n: int
    max_n: int

    @classmethod
    def build(cls, vectorizer: TfidfVectorizer) -> "WordNgrams | None":
        if vectorizer.analyzer != "word" or vectorizer.get_stop_words() is not None:
            return None
        return cls(vectorizer.build_preprocessor(), vectorizer.build_tokenizer(), *vectorizer.ngram_range)

    def analyze(self, review: str) -> Iterable[str]:
        tokens = self.tokenize(self.preprocess(review))
        return chain.from_iterable(
            tokens if n == 1 else map(" ".join, zip(*(tokens[start:] for start in range(n)), strict=False))
            for n in range(self.min_n, self.max_n + 1)
        )

    def hits(self, reviews: list[str], vocabulary: dict[str, int]) -> tuple[np.ndarray, np.ndarray]:
        """Every review's tokens in one list, its n-grams made at once; those spanning two reviews dropped."""
        per_review = [self.tokenize(self.preprocess(review)) for review in reviews]
        tokens = list(chain.from_iterable(per_review))
        review_of = np.repeat(np.arange(len(reviews)), [len(found) for found in per_review])
        reviews_hit, features_hit = [], []
        for n in range(self.min_n, self.max_n + 1):
            count = max(len(tokens) - n + 1, 0)
            grams = tokens if n == 1 else map(" ".join, zip(*(tokens[start:] for start in range(n)), strict=False))
            features = np.fromiter(map(vocabulary.get, grams, repeat(-1)), dtype=np.int64, count=count)
            found = (features >= 0) & (review_of[:count] == review_of[n - 1 :])
            reviews_hit.append(review_of[:count][found])
            features_hit.append(features[found])
        return np.concatenate(reviews_hit), np.concatenate(features_hit)


NgramCounter = CharAutomaton | AnalyzerCounter


def ngram_counter(vectorizer: TfidfVectorizer) -> NgramCounter:
    return CharAutomaton.build(vectorizer) or AnalyzerCounter(vectorizer)


def count_matrix(counter: NgramCounter, reviews: list[str], features: int) -> sparse.csr_matrix:
    """The float64 count matrix CountVectorizer.transform would give: rows sorted by feature, no zeros."""
    review_at, feature_at = counter.hits(reviews)
    # One sort of (review, feature) keys groups and orders everything; 32-bit keys sort several times faster.
    key_type = np.uint32 if len(reviews) * features < 1 << 32 else np.uint64
    width = key_type(features)
    keys = np.sort(review_at.astype(key_type) * width + feature_at.astype(key_type))
    starts = np.empty(len(keys), dtype=bool)  # where a (review, feature) key differs from the one before
    starts[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    counts = np.diff(np.append(first, len(keys))).astype(np.float64)
    rows = keys[first] // width
    columns = (keys[first] - rows * width).astype(np.int32)
    indptr = np.zeros(len(reviews) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows.astype(np.int64), minlength=len(reviews)), out=indptr[1:])
    return sparse.csr_matrix((counts, columns, indptr), shape=(len(reviews), features))
