import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.embeddings import (
    TOY_FEATURES,
    analogy,
    cosine_similarity,
    embed_tokens_and_positions,
    nearest_neighbours,
    one_hot_embed,
    toy_word_embeddings,
)
from minigpt.shapes import ShapeError


def test_one_hot_product_is_the_embedding_lookup():
    g = torch.Generator().manual_seed(0)
    embedding = nn.Embedding(7, 3)
    ids = torch.randint(7, (2, 5), generator=g)
    out = one_hot_embed(ids, embedding.weight)
    assert out.shape == (2, 5, 3)
    assert torch.allclose(out, embedding(ids))
    # the gradient reaches exactly the rows that were used, once per use
    out.sum().backward()
    uses = torch.bincount(ids.flatten(), minlength=7).float()
    assert torch.allclose(embedding.weight.grad, uses[:, None].expand(7, 3))


def test_positions_are_added_by_position_not_by_token():
    tok = torch.arange(12.0).view(4, 3)
    pos = 100 * torch.arange(1, 7.0)[:, None].expand(6, 3)
    idx = torch.tensor([[3, 3, 0], [1, 2, 2]])
    x = embed_tokens_and_positions(idx, tok, pos)
    assert x.shape == (2, 3, 3)
    assert x[0, 1].tolist() == [209.0, 210.0, 211.0]  # token 3 at position 1
    assert x[1, 0].tolist() == [103.0, 104.0, 105.0]  # token 1 at position 0
    assert torch.equal(x[0, 0] - x[0, 1], pos[0] - pos[1])  # same token, positions differ


def test_a_context_longer_than_the_position_table_is_refused():
    tok, pos = torch.zeros(5, 4), torch.zeros(8, 4)
    with pytest.raises(ShapeError, match="block_size=8.*T=9"):
        embed_tokens_and_positions(torch.zeros(1, 9, dtype=torch.long), tok, pos)
    with pytest.raises(ShapeError, match=r"expected shape \(B, T\), got \(9,\)"):
        embed_tokens_and_positions(torch.zeros(9, dtype=torch.long), tok, pos)
    with pytest.raises(ShapeError, match="pos_table"):
        embed_tokens_and_positions(torch.zeros(1, 2, dtype=torch.long), tok, torch.zeros(8, 3))
    assert embed_tokens_and_positions(torch.zeros(3, 8, dtype=torch.long), tok, pos).shape == (
        3,
        8,
        4,
    )


def test_cosine_similarity_ignores_length_and_broadcasts():
    a = torch.tensor([3.0, 4.0])
    assert cosine_similarity(a, 10 * a).item() == pytest.approx(1.0)
    assert cosine_similarity(a, -a).item() == pytest.approx(-1.0)
    assert cosine_similarity(a, torch.tensor([-4.0, 3.0])).item() == pytest.approx(0.0, abs=1e-7)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    pairwise = cosine_similarity(x[:, None, :], x[None, :, :])
    assert pairwise.shape == (6, 6)
    assert torch.allclose(pairwise, F.cosine_similarity(x[:, None], x[None], dim=-1), atol=1e-6)
    assert torch.allclose(pairwise.diagonal(), torch.ones(6))


def test_nearest_neighbours_rank_by_angle_and_skip_excluded():
    table = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0], [0.2, 0.0]])
    # row 1 is long and would win a dot product; row 4 points exactly the same way as the query
    assert nearest_neighbours(torch.tensor([1.0, 0.0]), table, k=3) in ([0, 4, 1], [4, 0, 1])
    assert nearest_neighbours(torch.tensor([1.0, 0.0]), table, k=2, exclude=[0, 4]) == [1, 2]
    with pytest.raises(ValueError, match="k must be"):
        nearest_neighbours(torch.tensor([1.0, 0.0]), table, k=5, exclude=[0])


def test_the_toy_table_holds_its_analogies():
    words, table = toy_word_embeddings()
    assert table.shape == (len(words), len(TOY_FEATURES))
    i = words.index
    assert words[analogy(table, i("man"), i("king"), i("woman"))] == "queen"
    assert words[analogy(table, i("boy"), i("prince"), i("girl"))] == "princess"
    assert words[analogy(table, i("prince"), i("king"), i("princess"))] == "queen"
    nearest = nearest_neighbours(table[i("apple")], table, k=1, exclude=[i("apple")])
    assert words[nearest[0]] == "pear"
