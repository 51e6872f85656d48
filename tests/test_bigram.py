import math

import pytest
import torch

from minigpt.bigram import (
    NeuralBigram,
    average_nll,
    bigram_probabilities,
    count_bigrams,
    fit_neural_bigram,
    gradient_descent_step,
    sample_bigram,
)


def test_counts_and_probabilities_on_a_small_sequence():
    counts = count_bigrams(torch.tensor([0, 1, 1, 2, 0, 1]), 3)
    assert counts.tolist() == [[0, 2, 0], [0, 1, 1], [1, 0, 0]]
    probs = bigram_probabilities(counts, smoothing=0.0)
    assert probs[0].tolist() == [0.0, 1.0, 0.0]
    smoothed = bigram_probabilities(counts, smoothing=1.0)
    assert torch.allclose(smoothed.sum(dim=1), torch.ones(3))
    assert smoothed[2].tolist() == pytest.approx([0.5, 0.25, 0.25])


def test_uniform_model_scores_log_vocab_size():
    uniform = torch.full((65, 65), 1 / 65)
    ids = torch.randint(65, (500,), generator=torch.Generator().manual_seed(0))
    assert average_nll(uniform, ids) == pytest.approx(math.log(65), rel=1e-6)


def test_counting_model_reaches_the_known_validation_loss(char_splits):
    counts = count_bigrams(char_splits.train, 65)
    assert counts.sum() == len(char_splits.train) - 1
    val_loss = average_nll(bigram_probabilities(counts), char_splits.val)
    assert 2.45 < val_loss < 2.52  # Karpathy's lecture: about 2.49


def test_neural_bigram_lands_within_002_nats_of_counting(char_splits):
    counting = average_nll(
        bigram_probabilities(count_bigrams(char_splits.train, 65)), char_splits.val
    )
    torch.manual_seed(0)
    model = NeuralBigram(65)
    losses = fit_neural_bigram(model, char_splits.train, generator=torch.Generator().manual_seed(0))
    assert losses[0] == pytest.approx(math.log(65), abs=1e-4)  # starts uniform
    with torch.no_grad():
        _, val_loss = model(char_splits.val[:-1], char_splits.val[1:])
    assert abs(val_loss.item() - counting) < 0.02


def test_sampling_is_seeded_and_follows_the_table():
    probs = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]])
    a = sample_bigram(probs, 2000, torch.Generator().manual_seed(1))
    b = sample_bigram(probs, 2000, torch.Generator().manual_seed(1))
    assert a == b and len(a) == 2000 and a[:3] == [0, 1, 2]
    after_two = [nxt for cur, nxt in zip(a, a[1:], strict=False) if cur == 2]
    assert set(after_two) == {0, 1}
    assert 0.4 < after_two.count(0) / len(after_two) < 0.6


def test_gradient_descent_step_moves_against_the_gradient():
    table = torch.zeros(3, 3, requires_grad=True)
    xs, ys = torch.tensor([0, 0, 1]), torch.tensor([1, 1, 2])
    first = gradient_descent_step(table, xs, ys, lr=1.0)
    assert first == pytest.approx(math.log(3))
    # d(loss)/d(table[0, 1]) = (2/3) * (1/3 - 1): the step raises the logit of the seen pair
    assert table[0, 1].item() == pytest.approx(4 / 9)
    second = gradient_descent_step(table, xs, ys, lr=1.0)
    assert second < first
