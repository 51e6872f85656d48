"""GPT.from_gpt2 reproduces a GPT-2 built by Hugging Face's transformers, offline.

The GPT-2 here is tiny and randomly initialised: nothing is downloaded. A match of the logits
to 1e-5 means every name, transpose, split of q/k/v, norm and activation was mapped right.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

from minigpt.generate import generate  # noqa: E402
from minigpt.model import GPT, MLP, GPTConfig  # noqa: E402


def tiny_gpt2(seed: int = 0, **changes):
    settings = dict(n_layer=2, n_head=2, n_embd=32, vocab_size=50, n_positions=16)
    config = transformers.GPT2Config(
        **{**settings, **changes}, bos_token_id=0, eos_token_id=0, pad_token_id=0
    )
    torch.manual_seed(seed)
    model = transformers.GPT2LMHeadModel(config).eval()
    # GPT-2's initialisation (std 0.02) leaves every activation near 0, where the exact GELU
    # and its tanh approximation agree to 1e-6; larger weights and nonzero biases and gains
    # make every part count, so a wrong activation or a missed bias fails the match.
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0.0, 0.25)
            else:
                param.add_(0.1 * torch.randn_like(param))
    return model


def ids(*shape, high=50, seed=1):
    return torch.randint(high, shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kernel", [True, False])
def test_logits_match_gpt2(kernel):
    theirs = tiny_gpt2()
    ours = GPT.from_gpt2(theirs.state_dict(), n_head=2)
    ours.config.use_torch_kernel = kernel
    for block in ours.blocks:
        block.attn.use_torch_kernel = kernel
    x = ids(3, 16)
    with torch.no_grad():
        expected = theirs(x).logits
        got, _ = ours(x)
    assert got.shape == expected.shape == (3, 16, 50)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    # the sampling path (last position only, and the KV cache) agrees as well
    torch.testing.assert_close(ours.last_logits(x), expected[:, -1], atol=1e-5, rtol=1e-5)


def test_config_is_read_from_the_shapes():
    ours = GPT.from_gpt2(tiny_gpt2(n_layer=3, n_embd=48, n_head=4).state_dict(), n_head=4)
    config = ours.config
    assert (config.vocab_size, config.block_size, config.n_layer, config.n_embd) == (50, 16, 3, 48)
    assert config.n_head == 4 and config.gelu_approximate == "tanh"
    assert ours.lm_head.weight is ours.tok_emb.weight
    assert not ours.training


def test_a_gpt2_body_without_head_loads_too():
    theirs = tiny_gpt2()
    body = {k: v for k, v in theirs.state_dict().items() if k != "lm_head.weight"}
    body = {k.removeprefix("transformer."): v for k, v in body.items()}
    ours = GPT.from_gpt2(body, n_head=2)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids(1, 8))[0], theirs(ids(1, 8)).logits, atol=1e-5, rtol=0)


def test_greedy_generation_matches_gpt2():
    theirs = tiny_gpt2(seed=3)
    ours = GPT.from_gpt2(theirs.state_dict(), n_head=2)
    start = ids(1, 4, seed=5)
    mine = generate(ours, start, 10, greedy=True, use_cache=True)
    with torch.no_grad():
        x = start
        for _ in range(10):
            x = torch.cat([x, theirs(x).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert mine.tolist() == x.tolist()


def test_the_head_count_is_inferred_for_published_widths_only():
    state = tiny_gpt2().state_dict()
    with pytest.raises(ValueError, match="pass n_head"):
        GPT.from_gpt2(state)
    with pytest.raises(ValueError, match="must be divisible"):
        GPT.from_gpt2(state, n_head=5)


def test_an_untied_head_or_a_foreign_dict_is_refused():
    state = dict(tiny_gpt2().state_dict())
    state["lm_head.weight"] = state["lm_head.weight"] + 1
    with pytest.raises(ValueError, match="tied"):
        GPT.from_gpt2(state, n_head=2)
    with pytest.raises(ValueError, match="not a GPT-2"):
        GPT.from_gpt2(GPT(GPTConfig()).state_dict(), n_head=4)
    state = dict(tiny_gpt2().state_dict())
    state.pop("transformer.h.1.mlp.c_fc.bias")
    with pytest.raises(ValueError, match="do not fit"):
        GPT.from_gpt2(state, n_head=2)


def test_minigpt_keeps_the_exact_gelu_by_default():
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    exact = MLP(16)
    torch.manual_seed(0)
    tanh = MLP(16, gelu_approximate="tanh")
    h = exact.fc(x)
    torch.testing.assert_close(exact(x), exact.proj(torch.nn.functional.gelu(h)))
    assert not torch.allclose(exact(x), tanh(x), atol=1e-7, rtol=0)
    assert GPTConfig().gelu_approximate == "none"
    with pytest.raises(ValueError, match="gelu_approximate"):
        GPTConfig(gelu_approximate="sigmoid")
