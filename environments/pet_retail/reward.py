"""The retailer's reward for one query: GMV, margin, strategic purchases and clicks.

reward = alpha_gmv * GMV + beta_cm2 * CM2 + gamma_strat * strategic purchases + delta_clicks *
clicks, as in the textbook (``zoosim.dynamics.reward``): GMV and CM2 sum the prices and margins of
the products bought, strategic purchases count the bought products of strategic categories.
:func:`reward_components` works on (n, k) arrays of a batch of shoppers; :class:`ResponseReward` is
the same computation as a RecSim reward aggregator over one slate's response objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from recframe.environments.pet_retail.config import RewardConfig

__all__ = ["COMPONENTS", "ResponseReward", "reward_components", "reward_weights", "weighted_components"]

COMPONENTS = ("gmv", "cm2", "strategic_purchases", "clicks")
"""The reward's components, in the order of the weights alpha_gmv, beta_cm2, gamma_strat, delta_clicks."""


def reward_components(
    cfg: RewardConfig, clicks: np.ndarray, revenue: np.ndarray, margin: np.ndarray, strategic: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-shopper reward and components from (n, k) per-position arrays.

    Args:
        cfg: the reward weights.
        clicks: (n, k) bool, clicked positions.
        revenue: (n, k) price of each bought product, 0 elsewhere.
        margin: (n, k) CM2 of each bought product, 0 elsewhere.
        strategic: (n, k) bool, bought products of strategic categories.

    Returns:
        ``{"reward", "gmv", "cm2", "strategic_purchases", "clicks"}``, each (n,) float64.
    """
    parts = np.empty((len(COMPONENTS), clicks.shape[0]))
    for row, values in enumerate((revenue, margin, strategic, clicks)):
        np.add.reduce(values, axis=1, dtype=np.float64, out=parts[row])
    return weighted_components(reward_weights(cfg), parts)


def reward_weights(cfg: RewardConfig) -> np.ndarray:
    """(4, 1) float64: alpha_gmv, beta_cm2, gamma_strat, delta_clicks (the order of :data:`COMPONENTS`)."""
    return np.array([[cfg.alpha_gmv], [cfg.beta_cm2], [cfg.gamma_strat], [cfg.delta_clicks]])


def weighted_components(weights: np.ndarray, parts: np.ndarray) -> dict[str, np.ndarray]:
    """The reward of (4, n) component sums (rows in :data:`COMPONENTS` order) and the components
    (views of ``parts``): the weighted rows added in that order, one elementwise operation per term
    for any batch size (for one shopper the same double operations on Python floats)."""
    if parts.shape[1] == 1:
        terms = [w * p for w, p in zip(weights[:, 0].tolist(), parts[:, 0].tolist(), strict=True)]
        reward = np.array([_added_in_order(terms)])
    else:
        reward = _added_in_order(weights * parts)
    return {"reward": reward, **dict(zip(COMPONENTS, parts, strict=True))}


def _added_in_order(terms: Any) -> Any:
    """``((terms[0] + terms[1]) + terms[2]) + ...``: rows of an array, or floats."""
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


class ResponseReward:
    """A RecSim reward aggregator: the reward of one slate's :class:`ShopperResponse` objects.

    Keeps the components of the last call in :attr:`last_components` (plain floats) so that the
    environment can report them in ``info``. Given ``model`` (a ShopperModel), the responses it
    returned last are scored from its outcome arrays (the same numbers, no recomputation).
    """

    def __init__(self, cfg: RewardConfig, model: Any = None) -> None:
        self.cfg = cfg
        self.model = model
        self.last_components: dict[str, float] = {}

    def __call__(self, responses: Sequence[Any]) -> float:
        model = self.model
        if model is not None and responses is model.last_responses:
            parts = model.last_outcome.components
        else:
            columns = [
                np.array([[getattr(r, name) for r in responses]])
                for name in ("click", "revenue", "margin", "strategic")
            ]
            parts = reward_components(self.cfg, *columns)
        self.last_components = {name: float(value[0]) for name, value in parts.items()}
        return self.last_components["reward"]
