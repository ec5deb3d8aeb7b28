"""What the quality tests of the shipped models share: the data they are scored on and
the check of the evaluator's figures against a card's thresholds."""

from __future__ import annotations

from collections.abc import Mapping

from studio.core.datasets import HELD_OUT_SEED, TRAIN_SEED, Split, default_fonts, make_glyphs


def glyph_data() -> dict[str, Split]:
    """A prefix of the training set (every class, every font) and of the held-out set:
    fast to render, and the distance to a subset is never smaller than to the whole set,
    so the memorisation check still holds."""
    fonts = default_fonts()
    return {"train": Split(*make_glyphs(100, TRAIN_SEED, fonts, cache=False)),
            "held_out": Split(*make_glyphs(20, HELD_OUT_SEED, fonts, cache=False))}


def assert_meets_thresholds(metrics: Mapping[str, float], thresholds: Mapping[str, float]) -> None:
    """Every `min_<figure>` / `max_<figure>` of the card holds for the measured figures."""
    assert thresholds, "the card has no thresholds"
    for key, limit in thresholds.items():
        bound, figure = key.split("_", 1)
        assert figure in metrics, (key, metrics)
        value = metrics[figure]
        assert (value >= limit) if bound == "min" else (value <= limit), (key, value, limit, metrics)
