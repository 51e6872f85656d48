import matplotlib.pyplot as plt
import pytest
import torch

from minigpt import plot
from minigpt.train import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_loss_plot_draws_batch_train_and_val():
    history = History(
        steps=[0, 10], train_loss=[4.0, 3.0], val_loss=[4.1, 3.2], batch_loss=[4.0] * 10
    )
    fig = plot.plot_losses(history)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["batch loss", "train (estimate)", "val (estimate)"]


def test_attention_plot_has_one_panel_per_head():
    weights = torch.softmax(torch.randn(6, 5, 5), dim=-1)
    fig = plot.plot_attention(weights, tokens=list("hello"))
    assert sum(len(ax.images) for ax in fig.axes) == 6
    assert len(plot.plot_attention(weights[0]).axes[0].images) == 1


def test_attention_panels_grow_with_the_labelled_sequence():
    weights = torch.softmax(torch.randn(4, 20, 20), dim=-1)
    fig = plot.plot_attention(weights, tokens=list("LUCIO:\nWhat says she"))
    width, height = fig.get_size_inches()
    assert width <= 13 and height >= 10  # 2 x 2 panels of 6 inches, not 4 slivers in a row
    assert width / 20 >= 0.25 and fig.axes[0].get_xticklabels()[0].get_fontsize() >= 9


def test_bigram_plot_labels_every_symbol():
    fig = plot.plot_bigram_counts(torch.ones(3, 3), ["a", "\n", " "])
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["a", "\\n", "␣"]


def test_projection_keeps_the_main_direction():
    line = torch.linspace(-1, 1, 20)[:, None] * torch.tensor([[1.0, 2.0, 2.0]])
    points = plot.project_2d(line)
    assert points.shape == (20, 2)
    assert points[:, 1].abs().max() < 1e-5 and points[:, 0].abs().max() == pytest.approx(
        3.0, rel=1e-4
    )
    fig = plot.plot_embeddings_2d(line, [str(i) for i in range(20)])
    assert len(fig.axes[0].texts) == 20


def test_temperature_plot_has_a_panel_per_temperature():
    fig = plot.plot_temperatures(torch.tensor([2.0, 1.0, 0.0]), (0.5, 1.0, 2.0, 5.0), list("abc"))
    assert [ax.get_title() for ax in fig.axes] == ["τ = 0.5", "τ = 1", "τ = 2", "τ = 5"]
