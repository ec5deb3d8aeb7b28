"""A first run is a first run (issue 13, point 10), through the real window: the welcome
lists every family without scrolling and offers Import for an empty one; the Models dock
elides long names in the middle, lists empty families with an Import row and explains its
dots; About names every family; `studio PATH` opens the file at launch."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

import studio.app
from studio import cli
from studio.core import export
from studio.ui.model_panel import COL_NAME, LEGEND
from studio.wiring import family_registry
from tests.ui.conftest import generate, make_window, write_png


class RealFamilies:
    """The fake services with the real family registry (the window is not started: the
    welcome, the dock and About only read the registry's labels)."""

    def __init__(self, services) -> None:
        self.engine, self.library, self.history = services.engine, services.library, services.history
        self.registry = family_registry()


def test_the_welcome_shows_every_family_without_scrolling(qtbot, services, settings, monkeypatch):
    window = make_window(qtbot, RealFamilies(services), settings, start=False)
    asked = []
    monkeypatch.setattr(window, "import_model_file_dialog", lambda: asked.append("file"))
    monkeypatch.setattr(window, "import_model_dialog", lambda: asked.append("folder"))
    dialog = window.show_welcome()
    qtbot.waitExposed(dialog)
    registry = window.registry
    assert set(dialog.family_labels) == {info.name for info in registry}
    assert dialog.scroll.verticalScrollBar().maximum() == 0  # nothing scrolled out of sight
    area = dialog.rect()
    for name, label in dialog.family_labels.items():
        top_left = label.mapTo(dialog, QPoint(0, 0))
        assert label.isVisible() and area.contains(top_left), name
        assert area.contains(top_left + QPoint(label.width() - 1, label.height() - 1)), name
    assert dialog.height() <= dialog.screen().availableGeometry().height()
    # no model of these families in the fake library: each offers Import, a file where
    # the family converts one (its importers), else a folder
    assert set(dialog.import_buttons) == {info.name for info in registry}
    stylegan = next(info for info in registry if info.importers)
    assert dialog.import_buttons[stylegan.name].text() == "Import a model file…"
    QTest.mouseClick(dialog.import_buttons[stylegan.name], Qt.MouseButton.LeftButton)
    assert asked == ["file"]
    window.close()


def test_the_models_dock_elides_names_in_the_middle_and_explains_its_dots(qtbot, services,
                                                                          settings, monkeypatch):
    window = make_window(qtbot, services, settings)
    tree = window.models.tree
    assert tree.textElideMode() == Qt.TextElideMode.ElideMiddle
    item = window.models._items["fake-model"]
    assert "Fake glyphs" in item.toolTip(COL_NAME)  # the whole name, however narrow the dock
    assert window.models.legend_label.text() == LEGEND and window.models.legend_label.isVisible()
    assert "loaded" in tree.headerItem().toolTip(3)
    # the fake diffusion family has no model: it is listed last, with an Import row
    rows = window.models.import_rows()
    empty = [info.label for info in services.registry
             if not any(e.family == info.name for e in services.library.entries())]
    assert empty and set(rows) == set(empty)
    asked = []
    monkeypatch.setattr(window, "_ask_folder", lambda caption: asked.append(caption))
    row = rows[empty[0]]
    tree.scrollToItem(row)
    rect = tree.visualItemRect(row)
    # a first click, as a user's double-click begins: item views want the press first
    QTest.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     rect.center())
    QTest.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      rect.center())
    assert asked == ["Import a model folder"]
    assert window.models.model_ids() == [e.id for e in services.library.entries()]
    window.close()


def test_about_names_every_family(qtbot, services, settings):
    window = make_window(qtbot, RealFamilies(services), settings, start=False)
    text = window.show_about().text()
    for info in window.registry:
        assert info.label in text
    window.close()


def test_studio_path_opens_the_file_even_when_it_is_named_like_a_command(tmp_path, monkeypatch):
    launched = []
    monkeypatch.setattr(studio.app, "main", lambda argv: launched.append(list(argv)) or 0)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").write_bytes(b"not a command")
    assert cli.main(["models"]) == 0
    assert launched == [["models"]]
    assert studio.app.launch_files(["-style", "fusion", "models"]) == (["-style", "fusion"], ["models"])


def test_a_recipe_at_launch_restores_its_model_and_settings(qtbot, services, settings, tmp_path):
    first = make_window(qtbot, services, settings)
    first.session.set_value("count", 4)
    result = generate(qtbot, first)
    path = export.export_png(tmp_path / "made.png", result)
    first.close()
    window = make_window(qtbot, services, settings, start=False, model_id="fake-other")
    history = len(window.history)
    studio.app.start_window(window, [str(path)])
    qtbot.waitUntil(lambda: window.last_result is not None and not window.busy(), timeout=10000)
    assert window.session.model_id == result.request.model_id
    assert window.session.value("count") == 4
    assert np.array_equal(window.last_result.images, result.images)
    assert len(window.history) == history  # a launch with a recipe makes nothing new
    window.close()


def test_a_plain_image_at_launch_opens_in_the_current_explorer(qtbot, services, settings, tmp_path):
    image = write_png(tmp_path / "photo.png")
    window = make_window(qtbot, services, settings, start=False)
    studio.app.start_window(window, [str(image)])
    qtbot.waitUntil(lambda: window.last_result is not None and not window.busy(), timeout=10000)
    assert window.last_result.request.op == "encode"  # as a dropped image would be
    assert window.explorer.samples.result is None or window.explorer.samples.result.request.op != "sample"
    window.close()
