"""Shape-preserving downsampling of long series before they are charted.

vl-convert needs about 9 s for 50k points and runs out of memory at 200k per revision, and a
560-pixel-wide chart cannot show more than a few thousand anyway.  MinMaxLTTB (tsdownsample,
in Rust) keeps the visual shape; the first and last points and the global extremes are kept
explicitly, so a spike or the final value is never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_MAX_POINTS = 2500  # per series and revision


def keep(xs: Sequence[float] | Any, ys: Sequence[float] | Any, max_points: int) -> list[int]:
    """Sorted indices of the points to keep (lists or numpy arrays); `xs` must be ascending."""
    n = len(ys)
    if n <= max_points:
        return list(range(n))
    import numpy as np
    from tsdownsample import MinMaxLTTBDownsampler

    x = np.asarray(xs, dtype=np.float64)
    y = np.asarray(ys, dtype=np.float64)
    # n_out must be even for the min/max pre-selection; leave room for the forced points.
    n_out = max(4, (max_points - 4) // 2 * 2)
    sampler = MinMaxLTTBDownsampler()  # type: ignore[no-untyped-call]
    chosen = sampler.downsample(x, y, n_out=n_out)
    forced = {0, n - 1, int(np.argmin(y)), int(np.argmax(y))}
    return sorted(set(chosen.tolist()) | forced)
