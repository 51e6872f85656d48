import math

import pytest
import torch
import torch.nn.functional as F

from minigpt.finetune import IGNORE_INDEX, masked_loss, sft_batch, sft_example
from minigpt.metrics import bits_per_byte, text_cross_entropy
from minigpt.model import GPT, GPTConfig
from minigpt.shapes import ShapeError
from minigpt.tokenizers import BPETokenizer, CharTokenizer

CHARS = CharTokenizer.fit("abcdefghijklmnopqrstuvwxyzAQ :?\n")


def test_sft_example_scores_the_response_only():
    x, y = sft_example(CHARS, "Q: hi?\nA:", " yo\n")
    text = "Q: hi?\nA: yo\n"
    assert CHARS.decode(x.tolist()) == text[:-1]
    scored = [(t, CHARS.decode([int(y[t])])) for t in range(len(y)) if y[t] != IGNORE_INDEX]
    # the first scored target is the response's first token, predicted at the prompt's last
    assert scored == [(8, " "), (9, "y"), (10, "o"), (11, "\n")]
    assert (y[:8] == IGNORE_INDEX).all()
    with pytest.raises(ValueError):
        sft_example(CHARS, "", "a")


def test_sft_batch_pads_inputs_with_zero_and_targets_with_ignore():
    pairs = [sft_example(CHARS, "ab", "c"), sft_example(CHARS, "abcd", "efg")]
    x, y = sft_batch(pairs)
    assert x.shape == y.shape == (2, 6)
    assert x[0, 2:].eq(0).all() and y[0, 2:].eq(IGNORE_INDEX).all()
    assert y[0, :2].tolist() == [IGNORE_INDEX, CHARS.encode("c")[0]]
    with pytest.raises(ShapeError):
        sft_batch([(torch.zeros(3, dtype=torch.long), torch.zeros(2, dtype=torch.long))])


def test_masked_loss_is_the_mean_over_scored_positions():
    logits = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([[1, 2, IGNORE_INDEX, 3, IGNORE_INDEX], [IGNORE_INDEX] * 4 + [6]])
    keep = targets != IGNORE_INDEX
    expected = F.cross_entropy(logits[keep], targets[keep])
    assert torch.allclose(masked_loss(logits, targets), expected)
    with pytest.raises(ShapeError):
        masked_loss(logits, targets[:, :4])


def test_the_model_loss_ignores_the_same_targets():
    torch.manual_seed(0)
    model = GPT(
        GPTConfig(vocab_size=CHARS.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)
    )
    x, y = sft_batch([sft_example(CHARS, "Q: a?\nA:", " b\n"), sft_example(CHARS, "Q:", " cd\n")])
    logits, loss = model(x, y)
    assert torch.allclose(loss, masked_loss(logits, y))


def test_text_cross_entropy_predicts_every_token_once():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)).eval()
    ids = torch.randint(11, (30,), generator=torch.Generator().manual_seed(1))
    total, count = text_cross_entropy(model, ids, batch_size=2)
    assert count == 29
    expected = 0.0
    with torch.no_grad():
        for start in range(0, 29, 8):  # windows 0-7, 8-15, 16-23, then 24-28
            x = ids[start : min(start + 8, 29)]
            y = ids[start + 1 : start + 1 + len(x)]
            expected += F.cross_entropy(model(x[None])[0][0], y, reduction="sum").item()
    assert total == pytest.approx(expected, rel=1e-5)
    assert model.training is False
    with pytest.raises(ValueError):
        text_cross_entropy(model, ids[:1])


def test_bits_per_byte_counts_bytes_not_tokens():
    assert bits_per_byte(8 * math.log(2) * 100, 100) == pytest.approx(8.0)
    text = "to be or not to be " * 20
    bpe = BPETokenizer.train(text, 20)
    assert len(bpe.encode(text)) < len(text.encode())  # fewer tokens, same bytes
    assert bits_per_byte(math.log(2) * 380, len(text.encode())) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        bits_per_byte(1.0, 0)
