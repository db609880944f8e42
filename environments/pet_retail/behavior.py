"""The shopper's cascade over a ranked list, and whether they search again.

The textbook's shopper (``zoosim.dynamics.behavior``) scans the list top down. At position k they
examine the product with probability sigmoid(pos_bias[query_type][k] + exam_sensitivity *
satisfaction) and stop at the first product they do not examine; an examined product is clicked
with probability sigmoid(utility), a click adds satisfaction_gain * utility to satisfaction (no
click subtracts satisfaction_decay), a click turns into a purchase with probability
sigmoid(beta_buy * utility + beta0 - w_price_penalty * log1p(price)), and a purchase subtracts
post_purchase_fatigue. They stop after max_purchases purchases or once satisfaction drops below
abandonment_threshold. Every query starts at satisfaction 0.

Vectorized over shoppers *and* positions: whether a product would be clicked and bought if examined
does not depend on satisfaction, so satisfaction before each position is a cumulative sum, and the
positions reached follow from a cumulative AND of the continue conditions. The random numbers are
drawn up front, a fixed block per shopper and query from the shopper's own generator, so a
shopper's outcome does not depend on the batch it is simulated in. Probabilities are compared in
logit space (``logit(u) < x`` rather than ``u < sigmoid(x)``), which keeps the per-position work to
exact arithmetic.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recframe.environments.pet_retail import compiled
from recframe.environments.pet_retail.config import BehaviorConfig, RetentionConfig

__all__ = [
    "Cascade",
    "CascadeDraws",
    "cascade_of_one",
    "draw_cascade",
    "draw_cascade_of_one",
    "position_bias_table",
    "retention_continues",
    "retention_logit",
    "simulate_cascade",
    "to_float32",
    "utilities",
    "utilities_of_one",
]


@dataclass(frozen=True)
class CascadeDraws:
    """The random numbers of one query's cascade per shopper (rows) and position (columns).

    Attributes:
        noise: (n, k) standard normals (utility noise).
        exam, click, buy: (n, k) logits of uniforms for the examine, click and buy decisions.
        retention: (n,) logit of the uniform deciding whether the shopper searches again.
    """

    noise: np.ndarray
    exam: np.ndarray
    click: np.ndarray
    buy: np.ndarray
    retention: np.ndarray


def draw_cascade(rngs: Sequence[np.random.Generator], k: int) -> CascadeDraws:
    """Draws the cascade of ``k`` positions for each shopper: k normals, then 3k + 1 uniforms."""
    n = len(rngs)
    noise = np.empty((n, k))
    uniforms = np.empty((n, 3 * k + 1))
    draws = compiled.kernel("pcg64_kernel")
    if draws is not None and draws.supports(rngs):  # the same draws, in one compiled call
        draws.normals_then_uniforms(rngs, noise, uniforms)
    else:
        for rng, z, u in zip(rngs, noise, uniforms):  # rows of an array: views, cheaper than indexing
            rng.standard_normal(out=z)
            rng.random(out=u)
    logits = _logits(uniforms)
    return CascadeDraws(
        noise=noise,
        exam=logits[:, :k],
        click=logits[:, k : 2 * k],
        buy=logits[:, 2 * k : 3 * k],
        retention=logits[:, 3 * k],
    )


def draw_cascade_of_one(rng: np.random.Generator, k: int) -> tuple[list[float], list[float]]:
    """:func:`draw_cascade` for one shopper, as lists: the k normals and the 3k + 1 logits (exam,
    click and buy k each, then retention); the same draws and numbers."""
    noise = rng.standard_normal(k)
    return noise.tolist(), _logits(rng.random(3 * k + 1)).tolist()


def _logits(uniforms: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):  # u = 0 gives -inf: the event happens, as u < sigmoid(x) says
        return np.log(uniforms) - np.log1p(-uniforms)


def position_bias_table(behavior: BehaviorConfig, query_types: Sequence[str], k: int) -> np.ndarray:
    """(n_query_types, k) position biases; positions past a vector's end repeat its last value."""
    table = np.empty((len(query_types), k))
    for row, qtype in enumerate(query_types):
        bias = list(behavior.pos_bias[qtype])
        table[row] = (bias + [bias[-1]] * k)[:k]
    return table


def utilities(
    behavior: BehaviorConfig,
    cosine: np.ndarray,
    log_price: np.ndarray,
    is_pl: np.ndarray,
    affinity: np.ndarray,
    theta_price: np.ndarray,
    theta_pl: np.ndarray,
    noise: np.ndarray,
) -> np.ndarray:
    """(n, k) latent utilities: alpha_rel * cosine + alpha_price * theta_price * log1p(price) +
    alpha_pl * theta_pl * is_pl + alpha_cat * theta_cat[category] + sigma_u * noise.

    ``theta_price`` and ``theta_pl`` are (n,); the other arguments (n, k).
    """
    b = behavior
    utility = b.alpha_rel * cosine
    utility += b.alpha_price * theta_price[:, None] * log_price
    utility += b.alpha_pl * theta_pl[:, None] * is_pl
    utility += b.alpha_cat * affinity
    utility += b.sigma_u * noise
    return utility


def utilities_of_one(
    behavior: BehaviorConfig,
    cosine: Sequence[float],
    log_price: Sequence[float],
    is_pl: Sequence[float],
    affinity: Sequence[float],
    theta_price: float,
    theta_pl: float,
    noise: Sequence[float],
) -> list[float]:
    """:func:`utilities` of one shopper with float32 cosines (the engine's), on Python floats.

    The batch's utility is a float32 array: ``alpha_rel * cosine`` is a float32 product (exact in
    double, then rounded) and every term after it is added in double and rounded back to float32.
    ``array("f", ...)`` rounds doubles to the nearest float32 as numpy's cast does, so these are the
    same numbers.
    """
    b = behavior
    alpha_rel = float(np.float32(b.alpha_rel))  # numpy casts the weight to the array's float32
    utility = to_float32([alpha_rel * c for c in cosine])
    price_weight, pl_weight = b.alpha_price * theta_price, b.alpha_pl * theta_pl
    utility = to_float32([u + price_weight * lp for u, lp in zip(utility, log_price)])
    utility = to_float32([u + pl_weight * pl for u, pl in zip(utility, is_pl)])
    utility = to_float32([u + b.alpha_cat * a for u, a in zip(utility, affinity)])
    return to_float32([u + b.sigma_u * z for u, z in zip(utility, noise)])


def to_float32(values: list[float]) -> list[float]:
    """``values`` rounded to float32 (to nearest, ties to even, as numpy's casts), as Python floats."""
    return array("f", values).tolist()


@dataclass(frozen=True)
class Cascade:
    """What each shopper did at each position of the list shown.

    Attributes:
        flags: (3, n, k) bool: examined, clicked and bought, stacked (so that their counts are one
            reduction); :attr:`examined`, :attr:`clicks` and :attr:`buys` are its planes.
        satisfaction: (n,) satisfaction at the end of the cascade.
    """

    flags: np.ndarray
    satisfaction: np.ndarray

    @property
    def examined(self) -> np.ndarray:
        """(n, k) bool, a prefix of each row."""
        return self.flags[0]

    @property
    def clicks(self) -> np.ndarray:
        """(n, k) bool."""
        return self.flags[1]

    @property
    def buys(self) -> np.ndarray:
        """(n, k) bool."""
        return self.flags[2]


def simulate_cascade(
    behavior: BehaviorConfig,
    utility: np.ndarray,
    log_price: np.ndarray,
    pos_bias: np.ndarray,
    draws: CascadeDraws,
) -> Cascade:
    """Runs the cascade for (n, k) utilities, log1p(prices) and position biases.

    A batch of one (every single environment's step) goes through :func:`_cascade_of_one`
    instead: the same arithmetic on Python floats, which stops at the last position examined and
    costs a fraction of the two dozen whole-array numpy calls below. Float32 utilities (the
    engine's) are widened first, so that both do that arithmetic in float64: a shopper's cascade
    is then the same alone and in a batch.
    """
    b = behavior
    n = utility.shape[0]
    if n == 1:
        return _cascade_of_one(b, utility, log_price, pos_bias, draws)
    utility = utility.astype(np.float64, copy=False)
    would_click = draws.click < utility
    would_buy = would_click & (draws.buy < b.beta_buy * utility + b.beta0 - b.w_price_penalty * log_price)
    delta = np.where(would_click, b.satisfaction_gain * utility, -b.satisfaction_decay)
    delta -= np.where(would_buy, max(0.0, b.post_purchase_fatigue), 0.0)
    sat_after = np.cumsum(delta, axis=1)
    sat_before = np.concatenate([np.zeros((n, 1)), sat_after[:, :-1]], axis=1)
    would_examine = draws.exam < pos_bias + b.exam_sensitivity * sat_before
    go_on = would_examine & (np.cumsum(would_buy, axis=1) < b.max_purchases)
    go_on &= sat_after >= b.abandonment_threshold
    reached = np.concatenate(
        [np.ones((n, 1), dtype=bool), np.logical_and.accumulate(go_on, axis=1)[:, :-1]], axis=1
    )
    flags = np.empty((3, *utility.shape), dtype=bool)
    examined = np.logical_and(reached, would_examine, out=flags[0])
    np.logical_and(examined, would_click, out=flags[1])
    np.logical_and(examined, would_buy, out=flags[2])
    return Cascade(flags=flags, satisfaction=np.where(examined, delta, 0.0).cumsum(axis=1)[:, -1])


def _cascade_of_one(
    b: BehaviorConfig, utility: np.ndarray, log_price: np.ndarray, pos_bias: np.ndarray, draws: CascadeDraws
) -> Cascade:
    """:func:`simulate_cascade` for one shopper ((1, k) arrays), by :func:`cascade_of_one`."""
    flags, satisfaction = cascade_of_one(
        b,
        utility[0].tolist(),
        log_price[0].tolist(),
        pos_bias[0].tolist(),
        draws.exam[0].tolist(),
        draws.click[0].tolist(),
        draws.buy[0].tolist(),
    )
    return Cascade(flags=np.array(flags, dtype=bool)[:, None, :], satisfaction=np.array([satisfaction]))


def cascade_of_one(
    b: BehaviorConfig,
    utility: Sequence[float],
    log_price: Sequence[float],
    pos_bias: Sequence[float],
    exam: Sequence[float],
    click: Sequence[float],
    buy: Sequence[float],
) -> tuple[list[list[bool]], float]:
    """One shopper's cascade on Python floats, position by position, stopping at the last position
    examined: ``([examined, clicked, bought], satisfaction)``, each flag list of length k.

    Bit-identical to :func:`simulate_cascade`: every quantity is the same IEEE double operation in
    the same order (satisfaction is the running sum that ``cumsum`` computes, and ``x - 0.0`` for
    a product not bought is ``x``), so single and vectorized environments still agree exactly.
    """
    k = len(utility)
    examined, clicks, buys = [False] * k, [False] * k, [False] * k
    fatigue = max(0.0, b.post_purchase_fatigue)
    rows = zip(utility, log_price, pos_bias, exam, click, buy, strict=True)
    satisfaction, purchases = 0.0, 0
    for position, (u, lp, bias, exam_logit, click_logit, buy_logit) in enumerate(rows):
        if not exam_logit < bias + b.exam_sensitivity * satisfaction:
            break
        examined[position] = True
        if click_logit < u:
            clicks[position] = True
            delta = b.satisfaction_gain * u
            if buy_logit < b.beta_buy * u + b.beta0 - b.w_price_penalty * lp:
                buys[position] = True
                purchases += 1
                delta -= fatigue
        else:
            delta = -b.satisfaction_decay
        satisfaction += delta
        if purchases >= b.max_purchases or not satisfaction >= b.abandonment_threshold:
            break
    return [examined, clicks, buys], satisfaction


def retention_continues(
    retention: RetentionConfig, clicks: np.ndarray, satisfaction: np.ndarray, draws: CascadeDraws
) -> np.ndarray:
    """(n,) bool: whether each shopper issues another query, with probability
    sigmoid(logit(base_rate) + click_weight * clicks + satisfaction_weight * satisfaction)."""
    return draws.retention < retention_logit(retention, clicks, satisfaction)


def retention_logit(retention: RetentionConfig, clicks: Any, satisfaction: Any) -> Any:
    """logit(base_rate) + click_weight * clicks + satisfaction_weight * satisfaction, for arrays or
    floats (the shopper searches again when the retention draw's logit is below it)."""
    r = retention
    base = math.log(r.base_rate) - math.log1p(-r.base_rate)
    return base + r.click_weight * clicks + r.satisfaction_weight * satisfaction
