"""A ratio metric per randomisation unit: the visitor.

Visitors are randomised, reviews are not: a visitor's reviews share their
writer, so their corrections are correlated and a per-review binomial variance
understates the truth (docs/monitoring.md: 13% to 30% false positives at a
nominal 5%). The correction rate is the ratio of two per-visitor sums, sum C /
sum M (C a visitor's corrections, M their reviews), and its variance is the
delta method's (Deng, Knoblich and Lu 2018, "Applying the delta method in metric
analytics"):

    Var(R) = n / (n - 1) * sum_i (C_i - R M_i)^2 / (sum_i M_i)^2
           = n / (n - 1) * (sum C^2 - 2 R sum CM + R^2 sum M^2) / (sum M)^2

which needs only the six sums below, all counters that only ever increase as
visitors review and correct. Visitors with no review add nothing to any sum
but n, and n / (n - 1) is all they change.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


@dataclass(frozen=True)
class RatioSums:
    """Per-visitor sums of a ratio metric sum x / sum y (arrays welcome: one value per experiment and look)."""

    visitors: ArrayLike  # n
    numerator: ArrayLike  # sum x, e.g. corrections
    denominator: ArrayLike  # sum y, e.g. reviews
    numerator_squares: ArrayLike  # sum x^2
    denominator_squares: ArrayLike  # sum y^2
    products: ArrayLike  # sum x y

    def ratio(self) -> NDArray:
        denominator = np.asarray(self.denominator, float)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, np.asarray(self.numerator, float) / denominator, np.nan)

    def variance(self) -> NDArray:
        """The delta method's variance of the ratio; infinite below two visitors or with no denominator."""
        n, y = np.asarray(self.visitors, float), np.asarray(self.denominator, float)
        ratio = np.nan_to_num(self.ratio())
        residual = (
            np.asarray(self.numerator_squares, float)
            - 2 * ratio * np.asarray(self.products, float)
            + ratio**2 * np.asarray(self.denominator_squares, float)
        )
        informed = (n >= 2) & (y > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            variance = np.maximum(residual, 0.0) * n / (n - 1) / y**2
        return np.where(informed, variance, np.inf)

    def design_effect(self) -> NDArray:
        """The delta-method variance over the binomial one, R (1 - R) / sum y, of a rate of events per unit."""
        ratio = self.ratio()
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.variance() / (ratio * (1 - ratio) / np.asarray(self.denominator, float))


@dataclass(frozen=True)
class VisitorSums:
    """An arm's per-visitor sums of reviews M, reviews with feedback F and corrections C, since the start.

    Three ratio metrics come out of them: the correction rate C/M (the
    primary), and the two it mixes, the feedback rate F/M (how many reviews
    get any answer) and the corrected share of feedback C/F (how many answers
    say the verdict was wrong).
    """

    visitors: int  # with at least one review
    reviews: int
    feedback: int
    corrections: int
    reviews_squared: int
    feedback_squared: int
    corrections_squared: int
    reviews_feedback: int  # sum of M F
    reviews_corrections: int  # sum of M C
    feedback_corrections: int  # sum of F C

    def correction_rate(self) -> RatioSums:
        return RatioSums(
            self.visitors, self.corrections, self.reviews,
            self.corrections_squared, self.reviews_squared, self.reviews_corrections,
        )  # fmt: skip

    def feedback_rate(self) -> RatioSums:
        return RatioSums(
            self.visitors, self.feedback, self.reviews,
            self.feedback_squared, self.reviews_squared, self.reviews_feedback,
        )  # fmt: skip

    def corrected_share(self) -> RatioSums:
        return RatioSums(
            self.visitors, self.corrections, self.feedback,
            self.corrections_squared, self.feedback_squared, self.feedback_corrections,
        )  # fmt: skip
