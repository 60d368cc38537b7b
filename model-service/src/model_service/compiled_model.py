"""A fast, exact path for scoring one review with a TF-IDF + logistic regression pipeline.

scikit-learn spends about 2 ms per `predict_proba` call on a single review,
nearly all of it in per-call machinery (input validation, a FeatureUnion's
joblib dispatch, building and stacking sparse matrices), not arithmetic. This
module precomputes, per term, what the fitted pipeline multiplies by, and
replays the very same floating-point operations in the same order:

    tf = log(count) + 1             (sublinear_tf; the log taken by NumPy, as sklearn does)
    x  = tf * idf                   (per term, in ascending feature index)
    x /= sqrt(sum of x*x)           (l2 norm, summed in that order, per vectorizer)
    z  = sum of x * coef + intercept  (over the stacked features, in order, from 0.0)
    p  = expit(z)                   (SciPy's, as sklearn uses)

So the probabilities are bit-for-bit equal to scikit-learn's, not merely
close; `Predictor.load` checks that on probe reviews before trusting it, and
the tests check it on a corpus. Pipelines of any other shape are not compiled
and are served by scikit-learn itself. Tokenising reuses each vectorizer's
own `build_analyzer()`, so n-grams are exactly scikit-learn's.
"""

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

# Term counts below this look their tf up in a table of NumPy's own logarithms.
_TF_TABLE_SIZE = 8192


@dataclass(frozen=True)
class _Block:
    """One fitted TfidfVectorizer: how to turn text into its normalised features."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: list[float]
    use_idf: bool
    sublinear_tf: bool
    l2_normalise: bool
    coef: list[float]


class CompiledTextModel:
    def __init__(self, blocks: list[_Block], coef: list[float], intercept: float) -> None:
        self._blocks = blocks
        self._coef = coef
        self._intercept = intercept
        counts = np.arange(_TF_TABLE_SIZE, dtype=np.float64)
        with np.errstate(divide="ignore"):
            self._sublinear_tf = (np.log(counts) + 1.0).tolist()
        self._plain_tf = counts.tolist()

    @classmethod
    def compile(cls, pipeline: object) -> "CompiledTextModel | None":
        """The compiled model, or None when the pipeline is not of a supported shape."""
        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) != 2:
            return None
        features, classifier = (step for _, step in pipeline.steps)
        if not _is_binary_logistic_regression(classifier):
            return None
        if isinstance(features, TfidfVectorizer):
            vectorizers = [features]
        elif isinstance(features, FeatureUnion) and features.transformer_weights is None:
            vectorizers = [step for _, step in features.transformer_list]
        else:
            return None
        if not all(_is_supported_vectorizer(v) for v in vectorizers):
            return None
        coef = classifier.coef_[0].tolist()
        if sum(len(v.vocabulary_) for v in vectorizers) != len(coef):
            return None
        blocks = []
        offset = 0
        for vectorizer in vectorizers:
            size = len(vectorizer.vocabulary_)
            blocks.append(
                _Block(
                    analyze=vectorizer.build_analyzer(),
                    vocabulary={term: int(index) for term, index in vectorizer.vocabulary_.items()},
                    idf=vectorizer.idf_.tolist() if vectorizer.use_idf else [1.0] * size,
                    use_idf=vectorizer.use_idf,
                    sublinear_tf=vectorizer.sublinear_tf,
                    l2_normalise=vectorizer.norm == "l2",
                    coef=coef[offset : offset + size],
                )
            )
            offset += size
        return cls(blocks, coef, float(classifier.intercept_[0]))

    def positive_probability(self, review: str) -> float:
        decision = 0.0
        for block in self._blocks:
            indices, values = self._features(block, review)
            coef = block.coef
            for index, value in zip(indices, values, strict=True):
                decision += value * coef[index]
        return float(expit(decision + self._intercept))

    def _features(self, block: _Block, review: str) -> tuple[list[int], list[float]]:
        """The block's non-zero features in ascending index order, as sklearn's CSR rows hold them."""
        counts = Counter([index for index in map(block.vocabulary.get, block.analyze(review)) if index is not None])
        indices = sorted(counts)
        tf_of = self._sublinear_tf if block.sublinear_tf else self._plain_tf
        if counts and max(counts.values()) >= _TF_TABLE_SIZE:
            tf_of = _TermFrequencies(tf_of, block.sublinear_tf)
        idf = block.idf
        if block.use_idf:
            values = [tf_of[counts[index]] * idf[index] for index in indices]
        else:
            values = [tf_of[counts[index]] for index in indices]
        if block.l2_normalise:
            squares = 0.0
            for value in values:
                squares += value * value
            if squares != 0.0:
                norm = math.sqrt(squares)
                values = [value / norm for value in values]
        return indices, values


class _TermFrequencies:
    """The tf table, extended past its end for the rare term repeated thousands of times."""

    def __init__(self, table: list[float], sublinear: bool) -> None:
        self._table = table
        self._sublinear = sublinear

    def __getitem__(self, count: int) -> float:
        if count < len(self._table):
            return self._table[count]
        if self._sublinear:
            return float(np.log(np.array([count], dtype=np.float64))[0] + 1.0)
        return float(count)


def _is_binary_logistic_regression(classifier: object) -> bool:
    return (
        isinstance(classifier, LogisticRegression)
        and classifier.coef_.shape[0] == 1
        and [int(c) for c in classifier.classes_] == [0, 1]
    )


def _is_supported_vectorizer(vectorizer: object) -> bool:
    return (
        isinstance(vectorizer, TfidfVectorizer)
        and vectorizer.norm in ("l2", None)
        and not vectorizer.binary
        and vectorizer.dtype == np.float64
        and vectorizer.input == "content"
    )
