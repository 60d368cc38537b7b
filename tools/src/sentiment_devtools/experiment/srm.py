"""The sample-ratio check: do the assignment counts follow the declared split?

If the split is broken (the canary loses visitors it should have had, say
because it fails their first answer and they are re-split), the arms no longer
hold comparable visitors and no comparison of them can be trusted: the report
withholds every verdict.

The sequential test is Lindon and Malek's (2022, "Anytime-valid inference for
multinomial count data"; Optimizely's `ssrm`): a Dirichlet-multinomial Bayes
factor of the counts x against the declared shares theta, with a Dirichlet
prior of mean theta and concentration k,

    BF = Gamma(k) / Gamma(k + n) * prod_i Gamma(k theta_i + x_i) / Gamma(k theta_i) / prod_i theta_i^x_i

a nonnegative martingale under the declared split, so 1/BF is a p-value valid
at every look. k is fixed so that the test is tightest at
`TUNED_FOR_VISITORS` assignments (k theta (1 - theta) plays the normal
mixture's rho: k = n_opt / (2 log(1/alpha) + log(1 + 2 log(1/alpha)))).

The chi-square test is the one an alert can compute from two counters in
PromQL; it is valid at one look only.
"""

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, xlogy
from scipy.stats import chi2

from sentiment_devtools.experiment.planning import tuned_ratio

ALPHA = 0.001  # GrowthBook's and Optimizely's threshold for a mismatch
TUNED_FOR_VISITORS = 2000
CONCENTRATION = TUNED_FOR_VISITORS / tuned_ratio(ALPHA)


def sequential_p_value(stable: ArrayLike, canary: ArrayLike, canary_share: float) -> NDArray:
    """min(1, 1/BF) of the assignment counts against the declared canary share."""
    counts = (np.asarray(stable, float), np.asarray(canary, float))
    shares = (1 - canary_share, canary_share)
    log_factor = gammaln(CONCENTRATION) - gammaln(CONCENTRATION + counts[0] + counts[1])
    for count, share in zip(counts, shares, strict=True):
        prior = CONCENTRATION * share
        log_factor = log_factor + gammaln(prior + count) - gammaln(prior) - xlogy(count, share)
    return np.minimum(1.0, np.exp(-log_factor))


def chi_square_p_value(stable: ArrayLike, canary: ArrayLike, canary_share: float) -> NDArray:
    """Pearson's goodness-of-fit test of two counts against the declared split (one degree of freedom)."""
    stable, canary = np.asarray(stable, float), np.asarray(canary, float)
    total = stable + canary
    with np.errstate(invalid="ignore", divide="ignore"):
        statistic = (canary - canary_share * total) ** 2 / (canary_share * (1 - canary_share) * total)
    return np.where(total > 0, chi2.sf(np.nan_to_num(statistic), df=1), 1.0)


def mismatch(p_value: ArrayLike) -> NDArray:
    return np.asarray(p_value) < ALPHA
