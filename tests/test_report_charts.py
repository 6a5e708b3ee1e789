"""The specification grid's cell labels: one per finite cell, the right colour, centred on
the cell at the size asked for in the PNG the report embeds."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd


def _grid(values: list[list[float]]) -> tuple[object, pd.DataFrame]:
    from matplotlib.figure import Figure

    from backtest.report import charts

    table = pd.DataFrame(values, index=["a", "b"], columns=["x", "y", "z"])
    fig = Figure(figsize=(6.0, 3.0), dpi=96)
    fig.subplots_adjust(left=0.1, right=0.85, bottom=0.2, top=0.9)
    charts.spec_grid(fig, table)
    return fig, table


def test_every_finite_cell_has_its_label_in_the_cell_colour() -> None:
    from matplotlib.collections import PathCollection

    fig, _ = _grid([[0.0, 3.0, np.nan], [-2.6, 1.2, -0.04]])
    ax = fig.axes[0]
    labels = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(labels) == 1
    coll = labels[0]
    assert [tuple(o) for o in coll.get_offsets()] == [(0, 0), (1, 0), (0, 1), (1, 1), (2, 1)]
    white = [bool(np.allclose(c[:3], 1.0)) for c in coll.get_facecolors()]
    assert white == [False, True, True, False, False]  # white where |statistic| > 2.5
    # "0.0" and "-0.0": each distinct label is one outline, shared by its cells
    assert len({id(p) for p in coll.get_paths()}) == 5


def test_labels_are_centred_on_their_cells_at_their_point_size() -> None:
    """Rendered at the report's 150 dpi: the dark pixels of the "0.0" label (black on the
    near-white zero cell) sit at the cell's centre and are as tall as digits at 6.5 pt
    (cap height about 0.7 em: 6.5 x 0.7 / 72 x 150 = 9.5 px); the NaN cell stays empty."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    from backtest.report.charts import PNG_DPI, to_png

    fig, _ = _grid([[0.0, 0.0, np.nan], [0.0, 0.0, 0.0]])
    image = np.asarray(Image.open(io.BytesIO(to_png(fig))).convert("L"), dtype=float)
    assert PNG_DPI == 150
    FigureCanvasAgg(fig)
    ax = fig.axes[0]
    height = image.shape[0]

    def cell(col: int, row: int) -> tuple[np.ndarray, float, float]:
        (x0, y0), (x1, y1) = ax.transData.transform(
            [(col - 0.5, row + 0.5), (col + 0.5, row - 0.5)]
        )
        top, bottom = height - max(y0, y1), height - min(y0, y1)
        box = image[int(top) + 2 : int(bottom) - 2, int(x0) + 2 : int(x1) - 2]
        return box, (x1 - x0) / 2 - 2, (bottom - top) / 2 - 2

    box, cx, cy = cell(0, 0)
    ys, xs = np.nonzero(box < 100)
    assert xs.size > 20
    assert abs((xs.min() + xs.max()) / 2 - cx) < 2.5
    assert abs((ys.min() + ys.max()) / 2 - cy) < 2.5
    assert 7 <= ys.max() - ys.min() + 1 <= 12
    empty, _, _ = cell(2, 0)
    assert (empty > 100).all()
