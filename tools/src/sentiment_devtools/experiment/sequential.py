"""Always-valid inference on an asymptotically normal estimate: the normal-mixture SPRT and its confidence sequence.

For an estimate theta_hat of an effect theta with variance V, and a normal
mixing distribution N(theta0, tau^2) over the alternatives, the mixture
likelihood ratio of Johari et al. (2017, "Peeking at A/B tests") is

    Lambda(theta0) = sqrt(V / (V + tau^2)) * exp(tau^2 (theta_hat - theta0)^2 / (2 V (V + tau^2)))

(Howard et al. 2021's two-sided normal mixture, in the estimate's scale). It is
a nonnegative martingale under theta = theta0, so by Ville's inequality it
exceeds 1/alpha at ANY look with probability at most alpha: 1/Lambda(0) is an
always-valid p-value, and the theta0 with Lambda(theta0) < 1/alpha form an
always-valid confidence sequence,

    theta_hat +- sqrt(V (V + tau^2) / tau^2 * (2 log(1/alpha) + log((V + tau^2) / V))).

V is the plug-in (delta-method) variance at the look, as in Optimizely's
Stats Engine: valid as the samples grow (Waudby-Smith et al. 2021's asymptotic
confidence sequences); the seeded simulation checks it on daily looks.
Functions take numpy arrays (any shape, broadcast) so that the simulation runs
the same code on thousands of experiments at once. A variance of zero or
infinity means no information: p = 1 and an infinite width.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray


def log_likelihood_ratio(estimate: ArrayLike, variance: ArrayLike, tau2: float, null: ArrayLike = 0.0) -> NDArray:
    estimate, variance, null = np.asarray(estimate, float), np.asarray(variance, float), np.asarray(null, float)
    informed = np.isfinite(variance) & (variance > 0)
    v = np.where(informed, variance, 1.0)
    value = 0.5 * np.log(v / (v + tau2)) + tau2 * (estimate - null) ** 2 / (2 * v * (v + tau2))
    return np.where(informed, value, 0.0)


def p_value(estimate: ArrayLike, variance: ArrayLike, tau2: float, null: ArrayLike = 0.0) -> NDArray:
    """Always-valid two-sided p-value of theta = null: min(1, 1 / Lambda(null))."""
    return np.minimum(1.0, np.exp(-log_likelihood_ratio(estimate, variance, tau2, null)))


def half_width(variance: ArrayLike, tau2: float, alpha: float) -> NDArray:
    """Half-width of the two-sided alpha-level confidence sequence at a look with this variance."""
    variance = np.asarray(variance, float)
    informed = np.isfinite(variance) & (variance > 0)
    v = np.where(informed, variance, 1.0)
    width = np.sqrt(v * (v + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log((v + tau2) / v)))
    return np.where(informed, width, np.inf)
