"""Nested cross-validation: an honest accuracy for the whole training procedure.

The outer stratified k-fold measures; inside each outer training part an inner
stratified k-fold picks C. Lexicon examples join every training part and never
a part that is scored, so every reported figure is on real reviews only.
"""

from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline

from model_service.manifest import Evaluation
from model_service.training.lexicon import Lexicon
from model_service.training.pipeline import C_GRID, build_pipeline


@dataclass(frozen=True)
class CrossValidationPlan:
    folds: int = 10
    inner_folds: int = 5
    seed: int = 42
    jobs: int = 2


def select_c(reviews: list[str], labels: list[int], lexicon: Lexicon, plan: CrossValidationPlan) -> float:
    """Pick C by inner CV; lexicon rows are always in the training part."""
    features = reviews + lexicon.words
    targets = labels + lexicon.labels
    lexicon_rows = np.arange(len(reviews), len(features))
    inner = StratifiedKFold(plan.inner_folds, shuffle=True, random_state=plan.seed)
    splits = [(np.concatenate([train, lexicon_rows]), validate) for train, validate in inner.split(reviews, labels)]
    search = GridSearchCV(build_pipeline(), {"classifier__C": list(C_GRID)}, cv=splits, refit=False)
    search.fit(features, targets)
    return float(search.best_params_["classifier__C"])


def fit(reviews: list[str], labels: list[int], lexicon: Lexicon, c: float) -> Pipeline:
    return build_pipeline(c).fit(reviews + lexicon.words, labels + lexicon.labels)


def _score_fold(
    reviews: list[str], labels: list[int], lexicon: Lexicon, plan: CrossValidationPlan, train, test
) -> tuple[list[int], list[int]]:
    train_reviews = [reviews[i] for i in train]
    train_labels = [labels[i] for i in train]
    c = select_c(train_reviews, train_labels, lexicon, plan)
    model = fit(train_reviews, train_labels, lexicon, c)
    predicted = model.predict([reviews[i] for i in test])
    return [labels[i] for i in test], [int(p) for p in predicted]


def cross_validate(reviews: list[str], labels: list[int], lexicon: Lexicon, plan: CrossValidationPlan) -> Evaluation:
    outer = StratifiedKFold(plan.folds, shuffle=True, random_state=plan.seed)
    splits = outer.split(reviews, labels)
    folds = Parallel(n_jobs=plan.jobs)(
        delayed(_score_fold)(reviews, labels, lexicon, plan, train, test) for train, test in splits
    )
    accuracies = [accuracy_score(truth, predicted) for truth, predicted in folds]
    all_truth = [label for truth, _ in folds for label in truth]
    all_predicted = [label for _, predicted in folds for label in predicted]
    precision, recall, f1, _ = precision_recall_fscore_support(
        all_truth, all_predicted, average="binary", pos_label=1, zero_division=0
    )
    return Evaluation(
        protocol=(
            f"nested CV: stratified {plan.folds}-fold (shuffled, seed {plan.seed}) outer folds score; "
            f"stratified {plan.inner_folds}-fold inner CV in each outer training part picks C from {list(C_GRID)}; "
            "lexicon examples only ever in training parts"
        ),
        folds=plan.folds,
        seed=plan.seed,
        accuracy_mean=round(float(np.mean(accuracies)), 4),
        accuracy_std=round(float(np.std(accuracies)), 4),
        precision_positive=round(float(precision), 4),
        recall_positive=round(float(recall), 4),
        f1_positive=round(float(f1), 4),
        fold_accuracies=[round(float(a), 4) for a in accuracies],
    )
