"""The compiled model gives scikit-learn's probabilities to the bit, one review or many, or is not used."""

import random

import joblib
import numpy as np
import pytest
from model_service.compiled_model import CompiledTextModel
from model_service.ngram_counts import AnalyzerCounter, CharAutomaton, count_matrix, ngram_counter
from model_service.predictor import Predictor
from model_service.training.demo_data import demo_reviews
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import FeatureUnion, Pipeline

REVIEWS, LABELS = demo_reviews()


def random_reviews(count: int) -> list[str]:
    """Text a user might paste: words the model knows, words it does not, odd characters."""
    rng = random.Random(7)
    words = [*" ".join(REVIEWS).split(), "zzz", "Ünïcödé", "🙂", "!!", "\t", "not", "a", "I'm"]
    return [" ".join(rng.choices(words, k=rng.randint(0, 60))) for _ in range(count)]


def assert_exact(pipeline: Pipeline, reviews: list[str]) -> None:
    """Both compiled paths, one review at a time and all at once, equal predict_proba to the bit."""
    compiled = CompiledTextModel.compile(pipeline)
    assert compiled is not None
    reference = pipeline.predict_proba(reviews)[:, 1].tolist()
    assert [compiled.positive_probability(r) for r in reviews] == reference
    assert compiled.positive_probabilities(reviews) == reference


def test_the_released_model_compiles_to_bit_exact_probabilities(release):
    pipeline = joblib.load(release.folder / release.version / "model.joblib")
    odd = ["", "wow " * 3000, "a" * 9000, "\ud800 lone surrogate", "line\n\n\tbreaks"]
    reviews = REVIEWS + random_reviews(300) + odd

    assert_exact(pipeline, reviews)


@pytest.mark.parametrize("reviews", [[""], ["ᚠᚢᚦ"], ["\udb74\uddf4", "ᚠ ᚢ", "   "]], ids=["empty", "runes", "several"])
def test_a_batch_in_which_no_review_has_a_known_ngram_is_exact(release, reviews):
    pipeline = joblib.load(release.folder / release.version / "model.joblib")

    assert_exact(pipeline, reviews)


def test_count_matrices_equal_scikit_learns(release):
    pipeline = joblib.load(release.folder / release.version / "model.joblib")
    reviews = REVIEWS + random_reviews(200) + ["", "   ", "\x00\n\u2028"]

    for _, vectorizer in pipeline.named_steps["features"].transformer_list:
        expected = CountVectorizer.transform(vectorizer, reviews)
        counts = count_matrix(ngram_counter(vectorizer), reviews, len(vectorizer.vocabulary_))

        assert np.array_equal(counts.indptr, expected.indptr)
        assert np.array_equal(counts.indices, expected.indices)
        assert np.array_equal(counts.data, expected.data)


def test_the_character_automaton_serves_the_released_models_characters(release):
    pipeline = joblib.load(release.folder / release.version / "model.joblib")
    vectorizers = dict(pipeline.named_steps["features"].transformer_list)

    assert isinstance(ngram_counter(vectorizers["chars"]), CharAutomaton)
    assert isinstance(ngram_counter(vectorizers["words"]), AnalyzerCounter)


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), norm=None),
        TfidfVectorizer(use_idf=False, sublinear_tf=True, lowercase=False),
        TfidfVectorizer(analyzer="char", ngram_range=(2, 3), strip_accents="unicode"),
        TfidfVectorizer(ngram_range=(1, 3), stop_words=["the", "a"]),
        TfidfVectorizer(ngram_range=(2, 3), lowercase=False),
    ],
)
def test_other_tfidf_settings_are_exact_too(vectorizer):
    pipeline = Pipeline([("features", vectorizer), ("classifier", LogisticRegression())]).fit(REVIEWS, LABELS)

    assert_exact(pipeline, random_reviews(200))


@pytest.mark.parametrize(
    "pipeline",
    [
        Pipeline([("features", CountVectorizer()), ("classifier", LogisticRegression())]),
        Pipeline([("features", TfidfVectorizer(binary=True)), ("classifier", LogisticRegression())]),
        Pipeline([("features", TfidfVectorizer()), ("classifier", MultinomialNB())]),
        Pipeline(
            [
                ("features", FeatureUnion([("a", TfidfVectorizer())], transformer_weights={"a": 2.0})),
                ("classifier", LogisticRegression()),
            ]
        ),
    ],
)
def test_unsupported_pipelines_are_served_by_scikit_learn(pipeline, release):
    pipeline.fit(REVIEWS, LABELS)

    assert CompiledTextModel.compile(pipeline) is None
    predictor = Predictor(pipeline, release.manifest)
    assert predictor.inference_path == "scikit-learn"
    assert [p.label for p in predictor.predict(["The soup was delicious.", "The soup was awful."])] == [
        "positive",
        "negative",
    ]
