"""Fast, exact paths for scoring reviews with a TF-IDF + logistic regression pipeline.

scikit-learn spends about 2 ms per `predict_proba` call on a single review,
nearly all of it in per-call machinery (input validation, a FeatureUnion's
joblib dispatch, building and stacking sparse matrices), not arithmetic. For
one review this module counts the n-grams (ngram_counts) and replays the very
same floating-point operations in the same order, on small NumPy arrays:

    tf = log(count) + 1             (sublinear_tf; NumPy's log, as sklearn's)
    x  = tf * idf                   (per term, in ascending feature index)
    x /= sqrt(sum of x*x)           (l2 norm, summed in that order, per vectorizer)
    z  = sum of x * coef + intercept  (over the stacked features, in order, from 0.0)
    p  = expit(z)                   (SciPy's, as sklearn uses)

So the probabilities are bit-for-bit equal to scikit-learn's, not merely
close; `Predictor.load` checks that on probe reviews before trusting it, and
the tests check it on a corpus. Pipelines of any other shape are not compiled
and are served by scikit-learn itself.

Many reviews at once take another exact path: their n-gram count matrices
(ngram_counts, equal to CountVectorizer's) go through scikit-learn's own
arithmetic, the same NumPy and SciPy calls TfidfTransformer, FeatureUnion and
LogisticRegression make, so only the per-string Python work is replaced.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import normalize

from model_service.ngram_counts import NgramCounter, count_matrix, ngram_counter

_ZERO = np.zeros(1)


@dataclass(frozen=True)
class _Block:
    """One fitted TfidfVectorizer: how to turn text into its normalised features."""

    counter: NgramCounter
    features: int
    idf: np.ndarray
    use_idf: bool
    sublinear_tf: bool
    l2_normalise: bool
    coef: np.ndarray


class CompiledTextModel:
    def __init__(self, blocks: list[_Block], classifier: LogisticRegression) -> None:
        self._blocks = blocks
        self._classifier = classifier
        self._intercept = float(classifier.intercept_[0])

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
        coef = classifier.coef_[0]
        if sum(len(v.vocabulary_) for v in vectorizers) != len(coef):
            return None
        blocks = []
        offset = 0
        for vectorizer in vectorizers:
            size = len(vectorizer.vocabulary_)
            blocks.append(
                _Block(
                    counter=ngram_counter(vectorizer),
                    features=size,
                    idf=vectorizer.idf_ if vectorizer.use_idf else np.ones(size),
                    use_idf=vectorizer.use_idf,
                    sublinear_tf=vectorizer.sublinear_tf,
                    l2_normalise=vectorizer.norm == "l2",
                    coef=coef[offset : offset + size],
                )
            )
            offset += size
        return cls(blocks, classifier)

    def positive_probability(self, review: str) -> float:
        # np.add.accumulate adds strictly left to right from 0.0, as scikit-learn's loops do
        # (np.sum and np.dot pair up or vectorise the additions, and so may round differently).
        terms = [self._weighted_features(block, review) for block in self._blocks]
        decision = np.add.accumulate(np.concatenate([_ZERO, *terms]))[-1]
        return float(expit(decision + self._intercept))

    def positive_probabilities(self, reviews: list[str]) -> list[float]:
        """Many reviews at once, through scikit-learn's own arithmetic on exact count matrices."""
        if not reviews:
            return []
        blocks = [self._tf_idf(block, count_matrix(block.counter, reviews, block.features)) for block in self._blocks]
        # FeatureUnion stacks the blocks exactly so.
        features = sparse.hstack(blocks).tocsr()
        return self._classifier.predict_proba(features)[:, 1].tolist()

    @staticmethod
    def _tf_idf(block: _Block, counts: sparse.csr_matrix) -> sparse.csr_matrix:
        """TfidfTransformer.transform's operations, in its order, on the count matrix (in place)."""
        if block.sublinear_tf:
            np.log(counts.data, counts.data)
            counts.data += 1.0
        if block.use_idf:
            counts.data *= block.idf[counts.indices]
        if block.l2_normalise:
            counts = normalize(counts, norm="l2", copy=False)
        return counts

    @staticmethod
    def _weighted_features(block: _Block, review: str) -> np.ndarray:
        """x * coef for the block's non-zero features, in ascending index order as sklearn's CSR rows hold them."""
        indices, counts = block.counter.counts(review)
        values = np.log(counts) + 1.0 if block.sublinear_tf else counts.astype(np.float64)
        if block.use_idf:
            values = values * block.idf[indices]
        if block.l2_normalise:
            squares = np.add.accumulate(np.concatenate([_ZERO, values * values]))[-1]
            if squares != 0.0:
                values = values / math.sqrt(squares)
        return values * block.coef[indices]


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
