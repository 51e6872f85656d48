import pytest
import torch

from minigpt.checks import (
    ExerciseCheckFailed,
    expect,
    expect_close,
    expect_equal,
    expect_own_work,
    expect_shape,
    expect_type,
)


def test_close_values_pass_and_far_values_say_where():
    expect_close(torch.ones(2, 3) + 1e-6, torch.ones(2, 3), "f(x)")
    wrong = torch.ones(2, 3)
    wrong[1, 2] = 5.0
    with pytest.raises(ExerciseCheckFailed, match=r"f\(x\).*index \(1, 2\): expected 1, got 5"):
        expect_close(wrong, torch.ones(2, 3), "f(x)")


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ExerciseCheckFailed, match=r"expected shape \(4, 4\), got \(4,\)"):
        expect_close(torch.ones(4), torch.ones(4, 4), "probs")
    with pytest.raises(ExerciseCheckFailed, match=r"expected shape \(2,\), got \(3,\)"):
        expect_shape([1, 2, 3], (2,), "ids")


def test_shape_of_a_meta_tensor_is_read_without_its_data():
    expect_shape(torch.zeros(4, 4, device="meta"), (4, 4), "weights on meta")
    with pytest.raises(ExerciseCheckFailed, match=r"expected shape \(3, 3\), got \(4, 4\)"):
        expect_shape(torch.zeros(4, 4, device="meta"), (3, 3), "weights on meta")


def test_infinities_must_sit_in_the_same_places():
    inf = float("-inf")
    expect_close(torch.tensor([inf, 0.0]), torch.tensor([inf, 0.0]), "masked")
    with pytest.raises(ExerciseCheckFailed, match="masked"):
        expect_close(torch.tensor([0.0, 0.0]), torch.tensor([inf, 0.0]), "masked")


def test_equal_type_and_plain_conditions():
    expect_equal(torch.tensor([1, 2]), torch.tensor([1, 2]), "ids")
    with pytest.raises(ExerciseCheckFailed, match=r"first at index \[1\]"):
        expect_equal(torch.tensor([1, 3]), torch.tensor([1, 2]), "ids")
    with pytest.raises(ExerciseCheckFailed, match="expected 'ab', got 'ba'"):
        expect_equal("ba", "ab", "decode")
    with pytest.raises(ExerciseCheckFailed, match="expected a float or int, got str"):
        expect_type("1.0", (float, int), "average_nll")
    with pytest.raises(ExerciseCheckFailed, match="the message"):
        expect(False, "the message")


def test_own_work_rejects_calls_into_the_reference():
    import minigpt.bigram as ref
    from minigpt.bigram import count_bigrams as hidden_name

    def honest(ids, size):
        return torch.bincount(ids * size, minlength=size)

    def borrows(ids, size):
        return hidden_name(ids, size)

    def borrows_module(ids, size):
        return [ref.count_bigrams(ids, size) for _ in range(1)]

    expect_own_work(honest, "count_matrix")
    with pytest.raises(ExerciseCheckFailed, match="uses hidden_name from minigpt.bigram"):
        expect_own_work(borrows, "count_matrix")
    with pytest.raises(ExerciseCheckFailed, match="uses ref from minigpt.bigram"):
        expect_own_work(borrows_module, "count_matrix")
    expect_own_work(borrows, "count_matrix", allowed=("minigpt.bigram",))


def test_matching_infinities_are_no_difference():
    inf = float("-inf")
    with pytest.raises(ExerciseCheckFailed, match=r"index \(1,\): expected 2, got 3"):
        expect_close(torch.tensor([inf, 3.0]), torch.tensor([inf, 2.0]), "top-k")
