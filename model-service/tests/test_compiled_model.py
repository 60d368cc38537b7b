"""The compiled model gives scikit-learn's probabilities to the bit, or is not used."""

import random

import joblib
import pytest
from model_service.compiled_model import CompiledTextModel
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


def exact_probabilities(pipeline: Pipeline, reviews: list[str]) -> tuple[list[float], list[float]]:
    compiled = CompiledTextModel.compile(pipeline)
    assert compiled is not None
    return [compiled.positive_probability(r) for r in reviews], pipeline.predict_proba(reviews)[:, 1].tolist()


def test_the_released_model_compiles_to_bit_exact_probabilities(release):
    pipeline = joblib.load(release.folder / release.version / "model.joblib")
    reviews = REVIEWS + random_reviews(300) + ["", "wow " * 3000, "a" * 9000]

    compiled, reference = exact_probabilities(pipeline, reviews)

    assert compiled == reference


@pytest.mark.parametrize(
    "vectorizer",
    [
        TfidfVectorizer(),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), norm=None),
        TfidfVectorizer(use_idf=False, sublinear_tf=True, lowercase=False),
    ],
)
def test_other_tfidf_settings_are_exact_too(vectorizer):
    pipeline = Pipeline([("features", vectorizer), ("classifier", LogisticRegression())]).fit(REVIEWS, LABELS)

    compiled, reference = exact_probabilities(pipeline, random_reviews(200))

    assert compiled == reference


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
