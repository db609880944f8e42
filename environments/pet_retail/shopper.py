"""The shopper as RecSim user components: state, sampler, response and user model.

They are thin views over a one-shopper :class:`~.sessions.ShopperSessions` engine, which holds
the state and does the vectorized work; each component puts its own generator into the engine
(sampler: who the shopper is and what they type; user model: the cascade and retention), so the
core's re-seeding (``reset_sampler``) drives the engine's streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces

from recframe.document import AbstractDocument
from recframe.environments.pet_retail.features import RESPONSE_FIELDS, response_space, shopper_space
from recframe.environments.pet_retail.sessions import Outcome, ShopperSessions
from recframe.seeding import SeedLike
from recframe.user import AbstractResponse, AbstractUserModel, AbstractUserSampler, AbstractUserState

__all__ = ["ShopperModel", "ShopperResponse", "ShopperSampler", "ShopperState", "shopper_state_class"]

_ONE = slice(0, 1)
"""The engine's only shopper (a slice: views and slice assignments, see ShopperSessions)."""


class ShopperState(AbstractUserState):
    """The current shopper of a one-shopper engine (a live view: it follows the engine's state).

    The agent observes only :meth:`create_observation` (query and visit counts); the latent
    preferences are available here for analysis.
    """

    SPACE: spaces.Dict | None = None

    def __init__(self, sessions: ShopperSessions) -> None:
        self.sessions = sessions

    def create_observation(self) -> dict[str, np.ndarray]:
        return self.sessions.observe_one(0)

    @classmethod
    def observation_space(cls) -> spaces.Dict:
        if cls.SPACE is None:
            raise TypeError("use shopper_state_class(config) to get a ShopperState class with a space")
        return cls.SPACE

    @property
    def user(self) -> Any:
        """The shopper (segment and latent preferences) as a :class:`~.users.User`."""
        return self.sessions.users[0]

    @property
    def query(self) -> Any:
        """The current query as a :class:`~.queries.Query`."""
        return self.sessions.queries[0]

    @property
    def active(self) -> bool:
        """Whether the visit goes on."""
        return bool(self.sessions.active[0])

    def __repr__(self) -> str:
        s = self.sessions
        q = s.queries
        return (
            f"ShopperState(segment={s.users.segment_names[s.users.segments[0]]}, "
            f"query={q.query_type_names[q.query_type[0]]}/{q.category_names[q.intent[0]]}, "
            f"session={s.session[0].tolist()}, active={self.active})"
        )


def shopper_state_class(config: Any) -> type[ShopperState]:
    """A :class:`ShopperState` subclass whose observation space is ``config``'s."""
    return type("ShopperState", (ShopperState,), {"SPACE": shopper_space(config)})


class ShopperSampler(AbstractUserSampler[ShopperState]):
    """Draws a new shopper and their first query into the engine (its generator is the shopper stream)."""

    def __init__(self, user_ctor: type[ShopperState], sessions: ShopperSessions, seed: SeedLike = 0) -> None:
        self._sessions = sessions
        super().__init__(user_ctor, seed)
        sessions.streams["shopper"][0] = self.rng

    def sample_user(self) -> ShopperState:
        self._sessions.start(_ONE)
        return self._user_ctor(self._sessions)


class ShopperResponse(AbstractResponse):
    """The shopper's response to one slate position (see :data:`~.features.RESPONSE_FIELDS`)."""

    def __init__(
        self,
        examined: bool = False,
        click: bool = False,
        purchase: bool = False,
        revenue: float = 0.0,
        margin: float = 0.0,
        strategic: bool = False,
    ) -> None:
        self.examined = examined
        self.click = click
        self.purchase = purchase
        self.revenue = revenue
        self.margin = margin
        self.strategic = strategic

    def create_observation(self) -> dict[str, Any]:
        return {name: np.asarray(getattr(self, name), dtype=_DTYPES[name]) for name in RESPONSE_FIELDS}

    @classmethod
    def response_space(cls) -> spaces.Dict:
        return response_space()


_DTYPES = {name: space.dtype for name, space in response_space().spaces.items()}


def stacked_responses(outcome: Outcome, row: int) -> dict[str, np.ndarray]:
    """The stacked response observation of one shopper's list, from an :class:`Outcome`."""
    values = outcome.responses()
    return {name: values[name][row].astype(_DTYPES[name]) for name in RESPONSE_FIELDS}


class ShopperModel(AbstractUserModel[ShopperState, ShopperResponse]):
    """The shopper's responses to slates: the position-biased cascade, then another query or leave.

    Its generator (``self.rng``) is the engine's behavior stream. :meth:`simulate_response` runs the
    whole transition (cascade, retention, next query); :meth:`update_state` has nothing left to do.

    Args:
        sampler: the shopper sampler (shares the engine).
        sessions: the one-shopper engine.
        slate_size: products per slate.
        seed: seed of the behavior stream.
    """

    def __init__(
        self, sampler: ShopperSampler, sessions: ShopperSessions, slate_size: int, seed: SeedLike = 0
    ) -> None:
        self._sessions = sessions
        super().__init__(ShopperResponse, sampler, slate_size, seed)
        sessions.streams["behavior"][0] = self.rng
        self.last_outcome: Outcome | None = None
        self.last_responses: list[ShopperResponse] | None = None
        self._null: dict[str, np.ndarray] | None = None

    def simulate_response(self, documents: Sequence[AbstractDocument]) -> list[ShopperResponse]:
        ids = np.array([[doc.doc_id() for doc in documents]], dtype=np.int64)
        outcome = self.last_outcome = self._sessions.respond(_ONE, ids)
        columns = zip(
            outcome.examined[0].tolist(),
            outcome.clicks[0].tolist(),
            outcome.buys[0].tolist(),
            outcome.revenue[0].tolist(),
            outcome.margin[0].tolist(),
            outcome.strategic[0].tolist(),
            strict=True,
        )
        self.last_responses = [ShopperResponse(*values) for values in columns]
        return self.last_responses

    def null_response_observation(self) -> dict[str, np.ndarray]:
        """The stacked "no response yet" observation (zeros), built once and handed out as copies."""
        if self._null is None:
            self._null = super().null_response_observation()
        return {name: value.copy() for name, value in self._null.items()}

    def create_response_observation(self, responses: Sequence[ShopperResponse]) -> dict[str, np.ndarray]:
        if self.last_outcome is None:
            return super().create_response_observation(responses)
        return stacked_responses(self.last_outcome, 0)

    def update_state(
        self, slate_documents: Sequence[AbstractDocument], responses: Sequence[ShopperResponse]
    ) -> None:
        """Nothing to do: :meth:`simulate_response` already moved the shopper on (see the class doc)."""
        del slate_documents, responses

    def is_terminal(self) -> bool:
        return not self._sessions.active[0]
