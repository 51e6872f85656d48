import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.text import Text

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


def test_attention_panels_fit_the_page_two_to_a_row_with_readable_labels():
    weights = torch.softmax(torch.randn(4, 20, 20), dim=-1)
    fig = plot.plot_attention(weights, tokens=list("LUCIO:\nWhat says she"))
    width, height = fig.get_size_inches()
    assert width <= plot.MAX_WIDTH and height >= 6  # 2 x 2 panels, not 4 slivers in a row
    labels = fig.axes[0].get_xticklabels()
    assert len(labels) == 20 and labels[0].get_fontsize() >= 10
    lone = plot.plot_attention(weights[0], tokens=list("LUCIO:\nWhat says she"))
    assert lone.get_size_inches()[0] >= 5  # a single map grows with the sequence
    long = plot.plot_attention(torch.softmax(torch.randn(4, 32, 32), dim=-1), list("ab" * 16))
    assert len(long.axes[0].get_xticklabels()) == 16  # every second position: no overlaps


def test_every_figure_fits_the_page():
    scores = torch.randn(8, 8)
    figures = [
        plot.plot_attention(torch.softmax(torch.randn(6, 8, 8), dim=-1)),
        plot.plot_bigram_counts(torch.ones(65, 65), [chr(33 + i) for i in range(65)]),
        plot.plot_embeddings_2d(torch.randn(30, 5), [str(i) for i in range(30)]),
        plot.plot_temperatures(scores[0], (0.5, 1.0, 2.0), list("abcdefgh")),
        plot.plot_losses(History(steps=[0], train_loss=[1.0], val_loss=[1.0])),
    ]
    for fig in figures:
        assert fig.get_size_inches()[0] <= plot.MAX_WIDTH


def test_bigram_plot_labels_every_symbol_of_a_small_table_and_groups_of_a_large_one():
    fig = plot.plot_bigram_counts(torch.ones(3, 3), ["a", "\n", " "])
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["a", "↵", "␣"]
    symbols = sorted("\n !.:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    fig = plot.plot_bigram_counts(torch.ones(len(symbols), len(symbols)), symbols)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[1:] == ["capitals", "lower case"]


def test_projection_keeps_the_main_direction():
    line = torch.linspace(-1, 1, 20)[:, None] * torch.tensor([[1.0, 2.0, 2.0]])
    points = plot.project_2d(line)
    assert points.shape == (20, 2)
    assert points[:, 1].abs().max() < 1e-5 and points[:, 0].abs().max() == pytest.approx(
        3.0, rel=1e-4
    )
    fig = plot.plot_embeddings_2d(line, [str(i) for i in range(20)])
    assert len(fig.axes[0].texts) == 20


def test_embedding_labels_do_not_overlap():
    for seed in range(5):
        points = torch.randn(12, 3, generator=torch.Generator().manual_seed(seed))
        points[:8] = points[0]  # eight on top of each other
        fig = plot.plot_embeddings_2d(points, [f"w{i}" for i in range(12)])
        fig.canvas.draw()
        # the text's own box: an annotation's extent would include its leader line
        boxes = [Text.get_window_extent(text) for text in fig.axes[0].texts]
        overlaps = sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
        assert overlaps == 0, seed
        plt.close(fig)


def test_temperature_plot_has_a_panel_per_temperature():
    fig = plot.plot_temperatures(torch.tensor([2.0, 1.0, 0.0]), (0.5, 1.0, 2.0, 5.0), list("abc"))
    assert [ax.get_title() for ax in fig.axes] == ["τ = 0.5", "τ = 1", "τ = 2", "τ = 5"]
