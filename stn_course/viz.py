"""Plotting helpers shared by the chapters (matplotlib).

Images are shown in *normalised* coordinates wherever a sampling grid is drawn on them:
the image covers [-1, 1] × [-1, 1] with y pointing down, its outer pixel edges at ±1
(``align_corners=False``), so a grid point (x, y) from :mod:`stn_course.grid` lands on the
pixel it samples.

- :func:`show_images`: a row/grid of images with titles.
- :func:`show_image_norm`: one image on an axis in normalised coordinates.
- :func:`draw_grid`: a sampling grid (H, W, 2) as points and lines over an axis.
- :func:`before_after`: the input with the sampling grid over it, beside the output.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

GRID_COLOR = "#ff9f1c"
FRAME_COLOR = "#2ec4ff"


def _to_numpy_image(image) -> np.ndarray:
    """(H, W), (1, H, W), (3, H, W), (1, 1, H, W) tensor/array → (H, W) or (H, W, 3) numpy."""
    array = image.detach().cpu().float().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    shape = array.shape
    while array.ndim > 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 3 and array.shape[0] in (1, 3):
        array = array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] != 3):
        raise ValueError(f"image must have shape (H, W), (1, H, W), (3, H, W) or (1, C, H, W), got {shape}")
    return array


def show_images(images, titles: Sequence[str] | None = None, *, ncols: int | None = None,
                size: float = 1.6, cmap: str = "gray", vmin: float | None = 0.0, vmax: float | None = 1.0,
                suptitle: str | None = None):
    """Show images side by side (wrapping after ``ncols``); return the figure.

    Args:
        images: a (N, C, H, W) / (N, H, W) tensor or a sequence of images.
        titles: one title per image (optional).
        size: inches per image.
        vmin, vmax: the grey-level range (None: each image's own range).
    """
    items = list(images)
    if not items:
        raise ValueError("images must hold at least one image, got none")
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"titles must have one entry per image ({len(items)}), got {len(titles)}")
    ncols = min(len(items), ncols or len(items))
    nrows = -(-len(items) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if suptitle else 0)),
                             squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k < len(items):
            ax.imshow(_to_numpy_image(items[k]), cmap=cmap, vmin=vmin, vmax=vmax)
            if titles is not None:
                ax.set_title(titles[k], fontsize=9)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_image_norm(ax, image, *, cmap: str = "gray", vmin: float | None = 0.0, vmax: float | None = 1.0,
                    margin: float = 0.0, ticks: bool = True):
    """Draw ``image`` on ``ax`` spanning [-1, 1]² (y down), with ``margin`` normalised units around it."""
    ax.imshow(_to_numpy_image(image), cmap=cmap, vmin=vmin, vmax=vmax, extent=(-1, 1, 1, -1),
              interpolation="nearest")
    lim = 1 + margin
    ax.set_xlim(-lim, lim)
    ax.set_ylim(lim, -lim)
    ax.set_aspect("equal")
    if ticks:
        ax.set_xticks([-1, 0, 1])
        ax.set_yticks([-1, 0, 1])
    else:
        ax.set_axis_off()
    return ax


def draw_grid(ax, grid, *, step: int = 1, color: str = GRID_COLOR, points: bool = True, lines: bool = True,
              frame: bool = False, linewidth: float = 0.8, markersize: float = 2.0):
    """Draw a sampling grid on ``ax``.

    Args:
        grid: (H, W, 2) or (1, H, W, 2) points (x, y), e.g. from :func:`stn_course.grid.affine_grid`.
        step: draw every ``step``-th row and column (the last ones are always drawn).
        frame: also outline the grid's outer rows and columns in a second colour.
    """
    g = grid.detach().cpu().double().numpy() if isinstance(grid, torch.Tensor) else np.asarray(grid, dtype=float)
    if g.ndim == 4 and g.shape[0] == 1:
        g = g[0]
    if g.ndim != 3 or g.shape[-1] != 2:
        raise ValueError(f"grid must have shape (H, W, 2) or (1, H, W, 2), got {tuple(np.shape(grid))}")
    if step < 1:
        raise ValueError(f"step must be a positive int, got {step}")
    h, w = g.shape[:2]
    rows = sorted(set(range(0, h, step)) | {h - 1})
    cols = sorted(set(range(0, w, step)) | {w - 1})
    sub = g[np.ix_(rows, cols)]
    if lines:
        for r in range(sub.shape[0]):
            ax.plot(sub[r, :, 0], sub[r, :, 1], color=color, lw=linewidth, alpha=0.8)
        for c in range(sub.shape[1]):
            ax.plot(sub[:, c, 0], sub[:, c, 1], color=color, lw=linewidth, alpha=0.8)
    if points:
        ax.plot(sub[..., 0].ravel(), sub[..., 1].ravel(), "o", color=color, ms=markersize)
    if frame:
        edge = np.concatenate([g[0, :], g[:, -1], g[-1, ::-1], g[::-1, 0]])
        ax.plot(edge[:, 0], edge[:, 1], color=FRAME_COLOR, lw=1.6)
    return ax


def before_after(image, output, grid=None, *,
                 titles: tuple[str, str] = (r"input $U$ and $\mathcal{T}_\theta(G)$", "output $V$"),
                 step: int = 3, margin: float = 0.5, size: float = 2.6, axes=None):
    """The input with the sampling grid over it, beside the output; return the figure.

    Args:
        image, output: the input U and output V, as for :func:`show_images`.
        grid: the sampling grid (H, W, 2) or (1, H, W, 2) that produced ``output`` (optional).
        step: draw every ``step``-th grid line.
        margin: normalised units shown around the input, so grid points outside it show.
        axes: two axes to draw on (default: a new figure).
    """
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(2 * size, size))
    else:
        fig = axes[0].figure
    show_image_norm(axes[0], image, margin=margin)
    if grid is not None:
        draw_grid(axes[0], grid, step=step, frame=True)
    show_image_norm(axes[1], output)
    axes[0].set_title(titles[0], fontsize=9)
    axes[1].set_title(titles[1], fontsize=9)
    return fig
