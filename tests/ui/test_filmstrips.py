"""Filmstrips follow Fit (issue 13, point 7), through the real window: a strip of small
frames fills its height at a whole-number zoom (no ~30 px smudges), scrolls sideways,
and keeps the marked step or picked frame in view."""

from __future__ import annotations

from PySide6.QtCore import QRectF

from tests.fakes import fake_diffusion_card
from tests.ui.conftest import Services, generate, make_window, sampling_window


def visible(canvas, rect: QRectF) -> bool:
    """Along the strip: the frame is within the part scrolled into view."""
    shown = canvas.mapToScene(canvas.viewport().rect()).boundingRect()
    return shown.left() <= rect.left() and rect.right() <= shown.right()


def test_the_timeline_strip_is_enlarged_and_scrolls_to_the_step(qtbot, tmp_path, settings):
    services = Services(tmp_path / "home", cards=(fake_diffusion_card("pixels", name="Pixels"),))
    try:
        window = sampling_window(qtbot, services, settings, "pixels", steps=40, count=1)
        window.resize(1024, 700)
        generate(qtbot, window)
        window.explorer.set_view("timeline")
        timeline = window.explorer.timeline
        strip = timeline.strip
        qtbot.waitUntil(lambda: strip.isVisible())
        cell = strip._cell[0]
        assert strip.zoom() >= 2 and strip.zoom() == int(strip.zoom())  # enlarged, square pixels
        assert strip.zoom() * cell * 2 <= strip.viewport().height()  # both rows in its height
        bar = strip.horizontalScrollBar()
        assert bar.maximum() > 0  # longer than the view: it scrolls
        assert visible(strip, timeline._marker.rect())  # the last step, marked, is in view
        timeline.slider.setValue(timeline.slider.minimum())  # to the first step
        assert bar.value() == bar.minimum() or visible(strip, timeline._marker.rect())
        assert visible(strip, timeline._marker.rect())
        strip.zoom_in()  # Fit and zoom still act on it
        assert strip.zoom() > 2
        strip.fit()
        assert visible(strip, timeline._marker.rect())
        window.close()
    finally:
        services.engine.shutdown()


def test_the_interpolation_strip_is_enlarged_and_shows_the_picked_frame(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    window.session.set_value("frames", 24, "interpolate")
    result = generate(qtbot, window, view="interpolate")
    assert result.count == 24
    strip = window.explorer.interpolate.strip
    qtbot.waitUntil(lambda: strip.isVisible())
    assert strip.zoom() >= 2 and strip.zoom() * strip._cell[1] >= 16
    strip.set_selection([23])
    assert visible(strip, strip._highlights[0].rect())
    window.close()
