"""Intervals for accuracies measured on images that are not independent.

The cluttered digits draw many test images from one handwritten source digit, so an image's
hit tells something about its siblings': a bootstrap that resamples images understates the
uncertainty. `source_bootstrap` resamples whole source digits (a cluster bootstrap) and
`interval` reads a percentile interval off the replicates; `paired_difference` compares two
methods scored on the same images, which is narrower than comparing their two intervals.

>>> import numpy as np
>>> hits = np.array([1, 1, 1, 0, 1, 0])         # one value per image
>>> sources = np.array([7, 7, 7, 3, 3, 9])      # the handwritten digit each image comes from
>>> low, high = interval(source_bootstrap(hits, sources, repeats=500))
>>> 0.0 <= low <= hits.mean() <= high <= 1.0
True
"""

from __future__ import annotations

import numpy as np

__all__ = ["interval", "paired_difference", "source_bootstrap"]


def source_bootstrap(hits, sources, repeats: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap replicates of the mean of per-image values, resampling source digits.

    Parameters
    ----------
    hits : array (..., N)
        Per-image values (1/0 hits, or differences of hits); the last axis is the images.
    sources : array (N,)
        The handwritten source digit (any hashable label) of each image.
    repeats : int
        Number of bootstrap replicates.
    seed : int
        Seed of the resampling, so a table is the same at every run.

    Returns
    -------
    ndarray (repeats, ...)
        The mean over the images of each replicate: the images of a resampled source digit
        all come in together, as often as the digit is drawn.

    >>> r = source_bootstrap([1.0, 1.0, 1.0, 0.0], [5, 5, 5, 9], repeats=200)
    >>> sorted(set(np.round(r, 2).tolist()))    # two digits drawn: 3/3, 0/1 or 3/4 hits
    [0.0, 0.75, 1.0]
    >>> source_bootstrap(np.ones((2, 4)), [0, 1, 2, 3], repeats=7).shape
    (7, 2)
    """
    hits = np.asarray(hits, dtype=float)
    sources = np.asarray(sources)
    if hits.ndim == 0 or sources.ndim != 1 or hits.shape[-1] != len(sources):
        raise ValueError(f"hits must end with one value per image of sources (N,); got "
                         f"hits {hits.shape} and sources {sources.shape}")
    if len(sources) == 0:
        raise ValueError("source_bootstrap needs at least one image; got none")
    if int(repeats) < 1:
        raise ValueError(f"repeats must be a positive int, got {repeats!r}")
    _, group = np.unique(sources, return_inverse=True)
    k = int(group.max()) + 1
    onehot = np.zeros((len(group), k))
    onehot[np.arange(len(group)), group] = 1
    sums = hits @ onehot                                  # (..., k) per source digit
    sizes = onehot.sum(0)
    counts = np.random.default_rng(seed).multinomial(k, np.full(k, 1 / k), size=int(repeats))
    return np.moveaxis((sums @ counts.T) / (counts @ sizes), -1, 0)


def interval(replicates, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval holding ``level`` of the bootstrap ``replicates``.

    >>> [round(bound, 6) for bound in interval(np.arange(101.0))]
    [2.5, 97.5]
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    low, high = np.quantile(np.asarray(replicates, dtype=float), [(1 - level) / 2,
                                                                  (1 + level) / 2])
    return float(low), float(high)


def paired_difference(a, b, sources, repeats: int = 1000, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``a − b`` over the same images, with its source-bootstrap interval.

    ``a`` and ``b`` are (N,) per-image values of two methods on the same images, or (T, N)
    values at T thresholds: then each method is read at its best threshold in each
    replicate (an oracle's MaxBoxAcc), and the difference is of those maxima.

    Returns ``(difference, low, high)``.

    >>> a, b = np.array([1, 1, 1, 0]), np.array([1, 0, 0, 0])
    >>> d, low, high = paired_difference(a, b, [0, 1, 2, 3], repeats=300)
    >>> d, low <= d <= high
    (0.5, True)
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"a and b must have one shape, (N,) or (T, N); got {a.shape} and "
                         f"{b.shape}")
    if a.ndim == 1:
        paired = a - b
        return (float(paired.mean()),
                *interval(source_bootstrap(paired, sources, repeats, seed), level))
    both = source_bootstrap(np.stack([a, b]), sources, repeats, seed)   # (repeats, 2, T)
    maxima = both.max(axis=2)
    value = float(a.mean(axis=1).max() - b.mean(axis=1).max())
    return (value, *interval(maxima[:, 0] - maxima[:, 1], level))
