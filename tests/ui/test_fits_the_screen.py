"""It fits the screen (issue 13, point 7), through the real window: with every explorer
built it works at 1024×700, panels scroll vertically and never sideways, no saved layout
squeezes a panel below its readable width, and the Compare window fits the screen."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from PySide6.QtWidgets import QScrollArea

from studio.ui.main_window import MODELS_MIN_WIDTH, PARAMS_MIN_WIDTH
from studio.wiring import explorer_table, family_registry
from tests.ui.conftest import make_window


class RealFamilies:
    """The fake services with the real family registry: every real explorer is built
    (the window is not started; no model runs)."""

    def __init__(self, services) -> None:
        self.engine, self.library, self.history = services.engine, services.library, services.history
        self.registry = family_registry()


def test_every_explorer_fits_a_1024_by_700_window(qtbot, services, settings):
    window = make_window(qtbot, RealFamilies(services), settings, start=False)
    window.explorer_table = explorer_table()
    kinds = {info.explorer for info in window.registry}
    for kind in sorted(kinds):
        window._use_explorer(kind)  # each made and shown once, as opening its model does
        qtbot.wait(1)
    window.resize(1024, 700)
    qtbot.waitUntil(lambda: window.width() == 1024)
    assert (window.width(), window.height()) == (1024, 700)
    assert window.minimumSizeHint().width() <= 1024
    for kind in sorted(kinds):
        window._use_explorer(kind)
        explorer = window.explorer
        assert explorer.minimumSizeHint().width() <= explorer.width(), kind
    # the side panels keep their readable widths, and the parameters scroll vertically only
    assert window.models_dock.width() >= MODELS_MIN_WIDTH
    assert window.params_dock.width() >= PARAMS_MIN_WIDTH
    # in a narrow Models dock the names keep the room (Res and Size are in the tooltips)
    window.resizeDocks([window.models_dock], [MODELS_MIN_WIDTH], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: window.models.tree.isColumnHidden(1))
    assert window.models.tree.columnWidth(0) >= 120
    scroll = window.params.findChild(QScrollArea)
    assert scroll.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    window.close()


def test_no_saved_layout_squeezes_a_panel_below_its_readable_width(qtbot, services, settings):
    window = make_window(qtbot, services, settings, start=False)
    # a layout saved by an older version, the panels squeezed to 120 px
    for dock in (window.models_dock, window.params_dock):
        dock.setMinimumWidth(0)
    window.resizeDocks([window.models_dock, window.params_dock], [120, 120], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: window.params_dock.width() < PARAMS_MIN_WIDTH)
    window.save_settings()
    window.close()
    assert isinstance(settings.value("window/state"), QByteArray)
    again = make_window(qtbot, services, settings, start=False)
    qtbot.waitUntil(lambda: again.params_dock.width() >= PARAMS_MIN_WIDTH)
    assert again.models_dock.width() >= MODELS_MIN_WIDTH
    # and no drag can squeeze them now
    again.resizeDocks([again.params_dock], [100], Qt.Orientation.Horizontal)
    qtbot.wait(10)
    assert again.params_dock.width() >= PARAMS_MIN_WIDTH
    again.close()


def test_the_compare_window_fits_the_screen(qtbot, services, settings):
    window = make_window(qtbot, services, settings)
    window.compare_action.trigger()
    dialog = window.compare_dialog
    qtbot.waitExposed(dialog)
    screen = dialog.screen().availableGeometry()
    assert dialog.width() <= screen.width() and dialog.height() <= screen.height()
    assert dialog.minimumSizeHint().width() <= screen.width()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20000)
    dialog.close()
    window.close()


def test_every_view_follows_fit_and_zoom_with_small_images_enlarged(qtbot, services, settings):
    """The fake model's 8-px images: every view's canvas shows them enlarged by a whole
    factor (nearest-neighbour, square pixels), and the explorer's − Fit + act on it."""
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QToolButton

    from tests.ui.conftest import generate

    window = make_window(qtbot, services, settings)
    buttons = {b.text(): b for b in window.explorer.cornerWidget().findChildren(QToolButton)}
    for view in window.explorer.views:
        generate(qtbot, window, view=view)
        canvas = window.explorer.canvas()
        assert canvas.has_content(), view
        fitted = canvas.zoom()
        assert fitted >= 2 and fitted == int(fitted), (view, fitted)
        assert not canvas.renderHints() & QPainter.RenderHint.SmoothPixmapTransform  # nearest
        buttons["+"].click()
        assert canvas.zoom() > fitted, view
        buttons["Fit"].click()
        assert canvas.zoom() == fitted, view
    window.close()
