from dataclasses import replace

import pytest
import torch

from minigpt.model import GPT, parameter_count_formula
from minigpt.presets import PRESETS, get_preset
from minigpt.speed import native_bfloat16


def tokens_per_run(name: str) -> int:
    preset = get_preset(name)
    return preset.train.max_iters * preset.train.batch_size * preset.model.block_size


def test_nanogpt_shapes_are_unchanged():
    small, baby = get_preset("cpu-small"), get_preset("gpu-baby")
    assert (small.model.n_layer, small.model.n_head, small.model.n_embd) == (4, 4, 128)
    assert (small.model.block_size, small.train.batch_size, small.train.max_iters) == (64, 12, 2000)
    assert (baby.model.n_layer, baby.model.n_head, baby.model.n_embd) == (6, 6, 384)
    assert (baby.model.block_size, baby.train.batch_size, baby.train.max_iters) == (256, 64, 5000)
    assert baby.model.dropout == 0.2
    assert parameter_count_formula(baby.model) == 10_770_816  # "10.8M", as nanoGPT reports


def test_capstone_recipe_sits_between_the_laptop_and_the_gpu_recipes():
    capstone = get_preset("cpu-capstone")
    assert capstone.model.block_size == 128 and capstone.train.batch_size == 32
    assert tokens_per_run("cpu-small") * 8 == tokens_per_run("cpu-capstone")
    assert tokens_per_run("cpu-capstone") < tokens_per_run("gpu-baby") / 6
    # A CPU recipe: the fused attention kernel in float32, the written-out one in bfloat16.
    assert capstone.model.use_torch_kernel == (not native_bfloat16(torch.device("cpu")))
    assert get_preset("cpu-small").model.use_torch_kernel == capstone.model.use_torch_kernel


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_a_model_with_a_sane_schedule(name):
    preset = get_preset(name)
    assert preset.model.n_embd % preset.model.n_head == 0
    assert 0 < preset.train.warmup_iters < preset.train.max_iters
    assert 0 < preset.train.min_lr < preset.train.learning_rate
    small = replace(preset.model, n_layer=1)  # one block is enough to run the shape
    model = GPT(small).eval()
    idx = torch.zeros(1, preset.model.block_size, dtype=torch.long)
    logits, _ = model(idx)
    assert logits.shape == (1, preset.model.block_size, preset.model.vocab_size)


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="cpu-capstone"):
        get_preset("gpu-huge")
