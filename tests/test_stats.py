"""bertscape.stats: the sign test and the bootstrap against SciPy, and verdicts on planted effects."""

import math

import numpy as np
import pytest

from bertscape import stats as S

scipy_stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("effects,band", [([0.3, 0.5, -0.1, 0.2, 0.9, 0.05], 0.0), ([0.3, 0.5, -0.1, 0.2, 0.9, 0.05], 0.1),
                                          ([-1, -2, -3, 0.5], 0.0), ([0.0, 0.0, 1.0], 0.0), ([1.0] * 9, 0.5)])
def test_sign_test_equals_scipy_binomtest(effects, band):
    t = S.sign_test(effects, band)
    n = t.positive + t.negative
    assert t.positive == sum(e > band for e in effects) and t.ties == sum(abs(e) <= band for e in effects)
    assert t.p_greater == pytest.approx(scipy_stats.binomtest(t.positive, n, 0.5, alternative="greater").pvalue, abs=1e-12)
    assert t.p_less == pytest.approx(scipy_stats.binomtest(t.negative, n, 0.5, alternative="greater").pvalue, abs=1e-12)


def test_sign_test_small_samples_known_values():
    assert S.sign_test([1, 1, 1, 1, 1]).p_greater == pytest.approx(1 / 32)  # 5 of 5 seeds: p = 0.031
    assert S.sign_test([1, 1, 1]).p_greater == pytest.approx(1 / 8)  # 3 of 3 cannot reject at 0.05
    assert S.sign_test([1] * 8 + [-1]).p_greater == pytest.approx(10 / 512)  # 8 of 9 pooled: 0.0195


def test_bootstrap_one_group_equals_scipy_percentile_interval():
    x = np.array([0.12, 0.4, -0.3, 0.8, 0.25, 0.33, 0.05])
    med, lo, hi = S.bootstrap_median({"T": list(x)}, n_boot=20000, seed=3)
    ref = scipy_stats.bootstrap((x,), np.median, n_resamples=20000, method="percentile", random_state=5,
                                confidence_level=0.95).confidence_interval
    assert med == np.median(x)
    # two Monte Carlo interval estimates of a median over 7 values land on the same order statistics
    assert lo == pytest.approx(ref.low, abs=0.1) and hi == pytest.approx(ref.high, abs=0.1)
    assert lo <= med <= hi


def test_bootstrap_interval_is_the_exact_order_statistic():
    # the median of 7 values resampled with replacement is x_(k) with P(median <= x_(k)) = P(Bin(7, k/7) >= 4): the
    # 2.5 % and 97.5 % quantiles of that exact distribution; a heavy outlier tells a median from a mean
    x = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 1000.0])
    cdf = [scipy_stats.binom.sf(3, 7, (k + 1) / 7) for k in range(7)]
    lo_k = next(k for k in range(7) if cdf[k] >= 0.025)
    hi_k = next(k for k in range(7) if cdf[k] >= 0.975)
    med, lo, hi = S.bootstrap_median({"T": list(x)}, n_boot=20000, seed=0)
    assert (med, lo, hi) == (3.0, x[lo_k], x[hi_k])


def test_bootstrap_resamples_within_task():
    # a task whose seeds all sit at 10 and one whose seeds all sit at -10: every resample keeps 3 + 3, so the median is 0
    med, lo, hi = S.bootstrap_median({"A": [10.0, 10.0, 10.0], "B": [-10.0, -10.0, -10.0]}, n_boot=2000)
    assert (med, lo, hi) == (0.0, 0.0, 0.0)


def test_bootstrap_is_deterministic_for_a_seed():
    g = {"A": [0.1, 0.5, 0.3], "B": [0.2, -0.1, 0.4]}
    assert S.bootstrap_median(g, seed=1) == S.bootstrap_median(g, seed=1)


def test_planted_effect_holds_reversed_does_not_hold():
    planted = {"RTE": [0.8, 1.1, 0.9, 1.3, 0.7]}
    d = S.decide(planted, band=0.1)
    assert d.verdict == S.HOLDS and d.test.p_greater == pytest.approx(1 / 32) and d.low > 0.1
    r = S.decide({"RTE": [-e for e in planted["RTE"]]}, band=0.1)
    assert r.verdict == S.DOES_NOT_HOLD and r.high < -0.1


def test_random_signs_are_undecided():
    rng = np.random.default_rng(0)
    effects = {t: list(rng.choice([-1.0, 1.0], 5) * rng.uniform(0.5, 1.5, 5)) for t in ("A", "B", "C")}
    assert S.decide(effects, band=0.1).verdict == S.UNDECIDED


def test_effects_inside_the_tie_band_are_undecided():
    d = S.decide({"SST-2": [0.05, 0.08, 0.02, 0.09, 0.04]}, band=0.1)  # all positive, all within one node
    assert d.verdict == S.UNDECIDED and d.test.ties == 5


def test_three_seeds_of_one_task_cannot_decide():
    assert S.decide({"MRPC": [1.0, 1.2, 0.9]}, band=0.1).verdict == S.UNDECIDED  # p = 1/8 at best


def test_pooled_over_tasks_decides_with_three_seeds_each():
    d = S.decide({"RTE": [1.0, 1.2, 0.9], "SST-2": [0.5, 0.7, 0.6], "MRPC": [0.4, 0.3, 0.8]}, band=0.1)
    assert d.verdict == S.HOLDS and d.test.p_greater == pytest.approx(1 / 512)


def test_left_out_seeds_are_counted_and_all_missing_is_na():
    d = S.decide({"RTE": [1.0, math.nan, 1.1, 0.9, 1.2, 1.3]}, band=0.1)
    assert d.n_seeds == 5 and d.left_out == 1 and d.verdict == S.HOLDS
    assert S.decide({"RTE": [math.nan, math.nan]}, band=0.1).verdict == S.NA


def test_log_ratio():
    assert S.log_ratio(2.0, 1.0) == pytest.approx(math.log(2))
    assert math.isnan(S.log_ratio(0.0, 1.0)) and math.isnan(S.log_ratio(1.0, math.inf))


def test_holm_against_hand_computation():
    adj = S.holm({"a": 0.01, "b": 0.04, "c": 0.03, "d": math.nan})
    # sorted 0.01, 0.03, 0.04 with m = 3: 0.03, max(0.03, 0.06), max(0.06, 0.04)
    assert adj["a"] == pytest.approx(0.03) and adj["c"] == pytest.approx(0.06) and adj["b"] == pytest.approx(0.06)
    assert math.isnan(adj["d"])


def test_mean_sd_se():
    m = S.mean_sd_se([1.0, 2.0, 4.0, 5.0])
    assert m == {"mean": 3.0, "sd": pytest.approx((10 / 3) ** 0.5), "se": pytest.approx((10 / 3) ** 0.5 / 2), "n": 4}
    one = S.mean_sd_se([2.0])
    assert one["mean"] == 2.0 and math.isnan(one["sd"]) and math.isnan(one["se"])
