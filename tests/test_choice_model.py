from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from recframe.choice_model import (
    ExponentialCascadeChoiceModel,
    MultinomialLogitChoiceModel,
    MultinomialProportionalChoiceModel,
    ProportionalCascadeChoiceModel,
)
from recframe.seeding import make_rng


class ScalarUser:
    """Scores a document observation by its first entry (the loop path)."""

    def score_document(self, doc_obs):
        return float(doc_obs[0])


class VectorUser:
    """The same scores through the vectorized path."""

    def score_documents(self, doc_obs):
        return np.asarray(doc_obs)[:, 0]


DOCS = np.array([[0.5], [1.5], [-0.2]])


def _empirical(model, n, seed=0):
    model.rng = make_rng(seed)
    counts = np.zeros(len(model.scores) + 1)
    for _ in range(n):
        choice = model.choose_item()
        counts[-1 if choice is None else choice] += 1
    return counts


def _assert_frequencies(model, n=20_000):
    probabilities = np.append(model.scores, model.score_no_click)
    assert probabilities.sum() == pytest.approx(1.0)
    counts = _empirical(model, n)
    # Goodness of fit at alpha = 1e-4 with a fixed seed: fails only if choose_item is wrong.
    assert stats.chisquare(counts, probabilities * n).pvalue > 1e-4


def test_multinomial_logit_matches_softmax_and_samples_it():
    model = MultinomialLogitChoiceModel({"no_click_mass": 0.3})
    model.score_documents(ScalarUser(), DOCS)
    logits = np.array([0.5, 1.5, -0.2, 0.3])
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(np.append(model.scores, model.score_no_click), expected)
    _assert_frequencies(model)


def test_multinomial_logit_without_no_click_always_chooses():
    model = MultinomialLogitChoiceModel()
    model.score_documents(VectorUser(), DOCS)
    assert model.score_no_click == 0.0
    assert _empirical(model, 2000)[-1] == 0


def test_vectorized_and_scalar_scoring_agree():
    a, b = MultinomialLogitChoiceModel(no_click_mass=1.0), MultinomialLogitChoiceModel(no_click_mass=1.0)
    a.score_documents(ScalarUser(), DOCS)
    b.score_documents(VectorUser(), DOCS)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_multinomial_proportional():
    model = MultinomialProportionalChoiceModel({"min_normalizer": -1.0, "no_click_mass": 0.5})
    model.score_documents(ScalarUser(), DOCS)
    np.testing.assert_allclose(model.scores, [1.5, 2.5, 0.8])
    assert model.score_no_click == pytest.approx(1.5)
    _assert_frequencies_normalized(model)


def _assert_frequencies_normalized(model, n=20_000):
    raw = np.append(model.scores, model.score_no_click)
    counts = _empirical(model, n)
    assert stats.chisquare(counts, raw / raw.sum() * n).pvalue > 1e-4


def test_multinomial_proportional_rejects_negative_scores_naming_them():
    model = MultinomialProportionalChoiceModel(min_normalizer=0.0)
    with pytest.raises(ValueError, match="non-negative"):
        model.score_documents(ScalarUser(), DOCS)


def test_proportional_needs_min_normalizer():
    with pytest.raises(ValueError, match="min_normalizer"):
        MultinomialProportionalChoiceModel().score_documents(ScalarUser(), DOCS)


def test_exponential_cascade_probabilities_follow_the_cascade():
    attention, scaling = 0.8, 0.1
    model = ExponentialCascadeChoiceModel(attention_prob=attention, score_scaling=scaling)
    model.score_documents(ScalarUser(), DOCS)
    take = attention * scaling * np.exp(DOCS[:, 0])
    expected = [take[0], (1 - take[0]) * take[1], (1 - take[0]) * (1 - take[1]) * take[2]]
    np.testing.assert_allclose(model.scores, expected)
    assert model.score_no_click == pytest.approx(np.prod(1 - take))
    _assert_frequencies(model)


def test_proportional_cascade():
    model = ProportionalCascadeChoiceModel(
        {"attention_prob": 1.0, "score_scaling": 0.25, "min_normalizer": -1.0}
    )
    model.score_documents(ScalarUser(), DOCS)
    take = 0.25 * (DOCS[:, 0] + 1.0)
    assert model.scores[0] == pytest.approx(take[0])
    assert model.score_no_click == pytest.approx(np.prod(1 - take))
    _assert_frequencies(model)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"attention_prob": 1.5, "score_scaling": 0.1}, "attention_prob"),
        ({"attention_prob": 0.5, "score_scaling": -0.1}, "score_scaling"),
        ({"attention_prob": 0.5}, "score_scaling"),
        ({"score_scaling": 0.1, "no_click_mass": 1.0}, "unknown parameter"),
    ],
)
def test_cascade_parameter_errors(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        ExponentialCascadeChoiceModel(**kwargs)


def test_cascade_score_scaling_that_cannot_make_probabilities_is_an_error():
    model = ExponentialCascadeChoiceModel(score_scaling=1.0)
    with pytest.raises(ValueError, match="score_scaling"):
        model.score_documents(ScalarUser(), DOCS)


def test_choices_are_reproducible_from_the_generator():
    model = MultinomialLogitChoiceModel(no_click_mass=0.0, rng=make_rng(42))
    model.score_documents(ScalarUser(), DOCS)
    first = [model.choose_item() for _ in range(50)]
    model.rng = make_rng(42)
    assert first == [model.choose_item() for _ in range(50)]


def test_choose_before_scoring_is_an_error():
    with pytest.raises(RuntimeError, match="score_documents"):
        MultinomialLogitChoiceModel().choose_item()


def test_drawing_without_a_generator_says_how_to_seed():
    model = MultinomialLogitChoiceModel()
    model.score_documents(ScalarUser(), DOCS)
    with pytest.raises(RuntimeError, match=r"rng=.*user model's self.rng"):
        model.choose_item()
