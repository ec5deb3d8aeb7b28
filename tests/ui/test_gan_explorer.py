"""The GAN explorer, driven with real input over the fake GAN: the seed grid and its A/B
picks, the truncation and direction sliders (live, latest wins), renaming, saving and
loading directions, the walk player and its export, the style-mixing matrix and the
projection dialog, cancelled midway."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton, QStyle, QStyleOptionSlider
from safetensors.numpy import save_file

from studio.core import directions as core_directions
from studio.core import export, media
from studio.ui.explorers.gan import explorer as gan_explorer
from studio.ui.explorers.gan.projection import ProjectionDialog
from tests.fakes import FakeGANModel, fake_gan_card
from tests.ui.conftest import cell_center, drop_files, generate, make_window, write_png


@pytest.fixture
def window(qtbot, gan_services, settings):
    made = make_window(qtbot, gan_services, settings, model_id="fake-gan")
    yield made
    made.close()


@pytest.fixture
def model():
    """The fake GAN itself, to compute the images the window must show."""
    return FakeGANModel(fake_gan_card(), "cpu")


def click_cell(canvas, index, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, modifiers,
                     cell_center(canvas, index))


def click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def tick(box) -> None:
    """Click a check box on its indicator (its middle may lie past the label)."""
    QTest.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def handle_center(slider) -> QPoint:
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, option,
                                         QStyle.SubControl.SC_SliderHandle, slider)
    return rect.center()


def open_edit(window, qtbot, pick: int = 1):
    """A seed grid, cell `pick` picked, the Truncation & directions tab rendered."""
    grid = generate(qtbot, window)
    click_cell(window.explorer.seeds.canvas, pick)
    click(window.explorer.seeds.edit_button)
    qtbot.waitUntil(lambda: window.explorer.edit.result is not None and window.engine.idle())
    return grid


def edit_settled(window, qtbot, **params) -> None:
    """Wait until the edit on screen was rendered with `params`."""
    def done():
        result = window.explorer.edit.result
        return (window.engine.idle() and result is not None
                and all(result.request.params.get(k) == v for k, v in params.items()))
    qtbot.waitUntil(done)


def test_the_window_opens_on_the_seed_grid(window, qtbot):
    explorer = window.explorer
    assert [explorer.tabText(i) for i in range(explorer.count())] == [
        "Seeds", "Truncation && directions", "Walk", "Style mix"]
    assert [a.text() for a in window.view_actions if a.isVisible()] == [
        "Seeds", "Truncation && directions", "Walk", "Style mix"]
    assert [window.params.op_combo.itemData(i) for i in range(window.params.op_combo.count())] \
        == ["sample", "arithmetic", "project"]
    result = generate(qtbot, window)
    assert result.request.op == "sample" and result.count == 16
    assert explorer.seeds.canvas.count == 16
    seed = result.request.seed
    assert explorer.seeds.canvas.cell_label(3) == f"seed {seed + 3}"
    assert len(window.history) == 1
    # every control of the explorer says what it does
    controls = [explorer.seeds.edit_button, explorer.seeds.project_button,
                explorer.seeds.interpolate_button, explorer.edit.truncation_slider,
                explorer.edit.whole_grid, explorer.edit.save_button, explorer.edit.load_button,
                explorer.edit.reset_button, explorer.walk.play_button,
                explorer.walk.fps, explorer.walk.repeat, explorer.walk.export_button,
                explorer.walk.frame_slider, explorer.mix.rows_edit, explorer.mix.columns_edit,
                explorer.seeds.edits_note, *explorer.mix.layer_buttons.values()]
    for row in explorer.edit.rows:
        controls += [row.name, row.slider, row.first, row.last]
    assert all(c.toolTip() for c in controls), [c for c in controls if not c.toolTip()]


def test_each_setting_appears_in_one_place(window, qtbot, model):
    """Truncation, the direction edits and the style-mixing seeds each show once per
    tab: in the panel, or in the tab's own controls (and then not in the panel); the edits
    are sliders, never JSON; Generate (Ctrl+Enter) is the one action button."""
    explorer, params = window.explorer, window.params
    # Seeds: ψ is the sample op's, in the panel; the edits are not a field anywhere here
    assert params.is_shown("truncation") and params.editor("truncation").isVisible()
    assert not params.is_shown("edits") and not params.editor("edits").isVisible()
    assert not params.sections()["Directions"].isVisible()
    # Truncation & directions: the tab's sliders set ψ and the edits, the panel hides them
    explorer.set_view("edit")
    assert params.op_combo.currentData() == "sample"
    assert not params.is_shown("truncation") and not params.editor("truncation").isVisible()
    assert not params.is_shown("edits")
    assert params.is_shown("seed") and params.is_shown("class_index")
    assert not params.is_shown("count")  # the edit renders the pick or the grid: no count
    assert explorer.edit.truncation_slider.isVisible() and explorer.edit.rows[0].slider.isVisible()
    assert explorer.edit.findChildren(QPushButton) == []  # Generate keeps the edit
    row = explorer.edit.rows[0]
    row.slider.setFocus()
    QTest.keyClick(row.slider, Qt.Key.Key_PageUp)
    edits = window.session.value("edits", "sample")
    assert json.loads(edits) == [{"direction": 0, "amount": 0.5, "layers": [0, 5]}]
    # Style mix: rows, columns and styles in the tab, ψ and the class in the panel, and no
    # button of its own besides Generate
    explorer.set_view("mix")
    assert params.op_combo.currentData() == "mix"
    assert [name for name in ("row_seeds", "column_seeds", "layers", "truncation", "class_index")
            if params.is_shown(name)] == ["truncation", "class_index"]
    assert not params.editor("row_seeds").isVisible()
    assert explorer.mix.rows_edit.isVisible() and explorer.mix.columns_edit.isVisible()
    assert [b.text() for b in explorer.mix.findChildren(QPushButton)] == []
    # back in Seeds, the grid carries the edits, and says so (the panel does not show them)
    explorer.set_view("samples")
    assert params.is_shown("truncation") and not params.is_shown("edits")
    grid = generate(qtbot, window)
    assert grid.request.params["edits"] == edits
    note = explorer.seeds.edits_note
    assert note.isVisible() and "Direction 1 +0.5σ" in note.text()
    w = model.seed_w(grid.request.seed, 0.7)
    assert np.array_equal(grid.images[0], model.synth(model.edit(w, json.loads(edits))[None])[0])
    # the slider back to 0: the next grid carries no edits and the note goes
    explorer.set_view("edit")
    row.reset_requested.emit()
    explorer.set_view("samples")
    assert not generate(qtbot, window).request.params["edits"]
    assert not note.isVisible()


def test_click_and_shift_click_pick_a_and_b(window, qtbot, model):
    grid = generate(qtbot, window)
    seeds = window.explorer.seeds
    click_cell(seeds.canvas, 2)
    click_cell(seeds.canvas, 5, Qt.KeyboardModifier.ShiftModifier)
    assert seeds.selection == [2, 5]
    assert len(seeds.canvas._highlights) == 2  # the A and B badges
    assert window.explorer.subject == ("seed", grid.request.seed + 2)
    assert seeds.interpolate_button.isEnabled() and seeds.edit_button.isEnabled()
    # A → B plays in the Walk tab, from exactly the picked images
    click(seeds.interpolate_button)
    qtbot.waitUntil(lambda: window.explorer.walk.result is not None and not window.busy())
    walk = window.explorer.walk.result
    assert window.explorer.current_view() == "walk" and window.params.op_combo.currentData() == "interpolate"
    assert (walk.request.params["seed"], walk.request.params["seed_b"]) == (
        grid.request.seed + 2, grid.request.seed + 5)
    assert np.array_equal(walk.images[0], grid.images[2])
    assert np.array_equal(walk.images[-1], grid.images[5])
    window.explorer.walk.stop()


def test_dragging_the_truncation_slider_renders_live_and_the_last_value_wins(window, qtbot, model):
    grid = open_edit(window, qtbot, pick=1)
    seed = grid.request.seed + 1
    edit = window.explorer.edit
    assert np.array_equal(edit.result.images[0], grid.images[1])  # the picked seed, as in the grid
    started, dropped, values = [], [], []
    window.bridge.job_started.connect(lambda job: started.append(job.lane))
    window.bridge.job_dropped.connect(lambda job: dropped.append(job.lane))
    edit.truncation_slider.valueChanged.connect(values.append)
    gate = FakeGANModel.gate = threading.Event()  # the worker holds on to the first render
    slider = edit.truncation_slider
    start = handle_center(slider)
    QTest.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 9):
        QTest.mouseMove(slider, start + QPoint(12 * step, 0))
    QTest.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=start + QPoint(96, 0))
    assert len(set(values)) >= 5, values  # a real drag: many positions, one request each
    psi = edit.truncation()
    assert psi > 0.7
    gate.set()
    edit_settled(window, qtbot, truncation=psi)
    # latest wins: besides the render that was running, only the last one ran; every
    # request in between was dropped unrun
    ran = started.count("gan-edit")
    assert ran in (1, 2) and dropped.count("gan-edit") == len(values) - ran
    assert window.session.value("truncation", "sample") == pytest.approx(psi)
    assert window.params.value("truncation") == pytest.approx(psi)  # the panel follows
    expected = model.synth(model.seed_w(seed, psi)[None])[0]
    assert np.array_equal(edit.result.images[0], expected)
    # ψ = 0 is the mean w: every seed of the grid gives the same image
    QTest.keyClick(slider, Qt.Key.Key_Home)
    tick(edit.whole_grid)
    edit_settled(window, qtbot, truncation=0.0, count=16)
    images = edit.result.images
    assert all(np.array_equal(images[0], image) for image in images[1:])
    assert len(window.history) == 1  # live renders stay out of the history


def test_a_direction_slider_writes_edits_into_the_recipe(window, qtbot, model):
    grid = open_edit(window, qtbot, pick=0)
    row = window.explorer.edit.rows[1]
    assert row.name.text() == "Direction 2" and row.layers() == (0, 2)
    assert "layers 0–2" in row.name.toolTip()
    row.slider.setFocus()
    QTest.keyClick(row.slider, Qt.Key.Key_PageUp)
    QTest.keyClick(row.slider, Qt.Key.Key_PageUp)
    assert row.amount() == pytest.approx(1.0) and row.value_label.text() == "+1.0σ"
    expected_edits = [{"direction": 1, "amount": 1.0, "layers": [0, 2]}]
    assert json.loads(window.session.value("edits", "sample")) == expected_edits
    assert json.loads(window.params.value("edits")) == expected_edits
    edit_settled(window, qtbot, edits=window.session.value("edits", "sample"))
    # the edit moved layers 0-2 only, by 1σ along direction 2
    w = model.seed_w(grid.request.seed, 0.7)
    assert np.array_equal(window.explorer.edit.result.images[0],
                          model.synth(model.edit(w, expected_edits)[None])[0])
    # a narrower layer range rewrites the edit
    row.last.setFocus()
    QTest.keyClick(row.last, Qt.Key.Key_Down)
    assert json.loads(window.session.value("edits", "sample"))[0]["layers"] == [0, 1]
    # Generate (the one action button) keeps it in the History, with its recipe
    before = window.last_result
    click(window.params.generate_button)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy())
    kept = window.last_result
    recipe = export.recipe_of(kept)
    assert json.loads(recipe["params"]["edits"]) == [{"direction": 1, "amount": 1.0, "layers": [0, 1]}]
    assert recipe["params"]["seed"] == grid.request.seed and recipe["params"]["count"] == 1
    assert window.explorer.current_view() == "edit" and len(window.history) == 2
    # undo (the slider moves and the range are one edit of `edits`) moves the slider back
    window.undo()
    assert window.session.value("edits", "sample") == "" and window.params.value("edits") == ""
    assert row.amount() == 0.0 and row.layers() == (0, 1)


def give_weights(window, model, folder):
    """Give the fake GAN's library entry a folder whose model.safetensors holds the fake's
    direction vectors, as a real GAN's weights do."""
    folder.mkdir(parents=True, exist_ok=True)
    save_file({core_directions.VECTORS_TENSOR: model.directions}, str(folder / "model.safetensors"))
    window.library.get("fake-gan").folder = folder
    return folder


def rename(name_field, text: str) -> None:
    """Rename a direction in place as a user does: double-click its name, type, Enter."""
    QTest.mouseDClick(name_field, Qt.MouseButton.LeftButton)
    QTest.keyClicks(name_field, text)  # the old name is selected: typing replaces it
    QTest.keyClick(name_field, Qt.Key.Key_Return)


def test_directions_are_renamed_in_place(window, qtbot):
    explorer = window.explorer
    explorer.set_view("edit")
    row = explorer.edit.rows[1]
    name = row.name
    assert name.isReadOnly() and name.text() == "Direction 2"  # reads as a label
    # F2 on the name edits it in place; Esc keeps the old name
    name.setFocus()
    QTest.keyClick(name, Qt.Key.Key_F2)
    assert not name.isReadOnly() and name.selectedText() == "Direction 2"
    QTest.keyClicks(name, "Slant")
    QTest.keyClick(name, Qt.Key.Key_Escape)
    assert name.isReadOnly() and name.text() == "Direction 2"
    assert explorer.directions[1].name == "Direction 2"
    # double-click, type, Enter: the direction is renamed
    rename(name, "  Slant  ")
    assert name.isReadOnly() and name.text() == "Slant"
    assert explorer.directions[1].name == "Slant" and "Slant" in row.slider.toolTip()
    # leaving the field keeps what was typed, as Enter does; an empty name keeps the old
    QTest.keyClick(name, Qt.Key.Key_F2)
    QTest.keyClicks(name, "Thickness")
    row.slider.setFocus()
    assert name.isReadOnly() and explorer.directions[1].name == "Thickness"
    rename(name, " ")
    assert name.text() == "Thickness" and explorer.directions[1].name == "Thickness"
    # the name is the model's direction: another model and back keeps it
    window.select_model("fake-model")
    window.select_model("fake-gan")
    assert window.explorer.edit.rows[1].name.text() == "Thickness"


def test_rename_save_and_load_directions(window, qtbot, tmp_path, monkeypatch, model):
    explorer = window.explorer
    explorer.set_view("edit")
    rows = explorer.edit.rows
    rename(rows[0].name, "Smile")
    assert rows[0].name.text() == "Smile" and "Smile" in rows[0].name.toolTip()
    assert explorer.directions[0].name == "Smile"  # the direction's own name, not the row's
    rows[2].name.context_menu().actions()[0].trigger()  # right-click ▸ Rename
    QTest.keyClicks(rows[2].name, "Stroke width")
    QTest.keyClick(rows[2].name, Qt.Key.Key_Return)
    assert rows[2].name.text() == "Stroke width"
    rows[2].first.setValue(4)
    path = tmp_path / "mine.json"
    monkeypatch.setattr(explorer, "_ask_save_path", lambda *a: str(path.with_suffix("")))

    # without the model's weights there are no vectors to save: it says so, writes nothing
    click(explorer.edit.save_button)
    assert window.message_bar.level() == "error" and "cannot read the directions" in window.message_bar.text()
    assert not path.exists()

    # the project's directions file: names, ranges, σ and the model's own vectors
    give_weights(window, model, tmp_path / "fake-gan")
    click(explorer.edit.save_button)
    assert "Saved 3 directions" in window.message_bar.text()
    saved = json.loads(path.read_text())
    assert saved["format"] == core_directions.FORMAT and saved["model"] == "fake-gan"
    assert saved["num_layers"] == 6 and saved["w_dim"] == 8
    loaded = core_directions.load_directions(path, w_dim=8, num_layers=6)
    assert [(d.name, d.layers, d.sigma) for d in loaded] == [
        ("Smile", (0, 5), 1.0), ("Direction 2", (0, 2), 0.5), ("Stroke width", (4, 5), 2.0)]
    assert np.array_equal(np.stack([d.vector for d in loaded]), model.directions)

    # change everything, then load: names and ranges come back
    rename(rows[0].name, "Something else")
    assert explorer.directions[0].name == "Something else"
    click(explorer.edit.reset_button)
    assert rows[2].layers() == (3, 5)
    monkeypatch.setattr(explorer, "_ask_open_path", lambda *a: str(path))
    click(explorer.edit.load_button)
    assert [r.name.text() for r in rows] == ["Smile", "Direction 2", "Stroke width"]
    assert rows[2].layers() == (4, 5)
    # the model's own vectors came back: the sliders still name them by index
    rows[2].slider.setFocus()
    QTest.keyClick(rows[2].slider, Qt.Key.Key_PageUp)
    assert json.loads(window.session.value("edits", "sample")) == [
        {"direction": 2, "amount": 0.5, "layers": [4, 5]}]

    # another model's file changes nothing and says why
    other = tmp_path / "other.json"
    core_directions.save_directions(other, loaded[:1], model="someone-else", num_layers=6)
    monkeypatch.setattr(explorer, "_ask_open_path", lambda *a: str(other))
    click(explorer.edit.load_button)
    assert window.message_bar.level() == "error" and "someone-else" in window.message_bar.text()
    assert rows[0].name.text() == "Smile"

    # a names-only file of an older version still gives names and ranges, by position
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"model": "fake-gan", "directions": [
        {"name": "Thin", "layers": [1, 2]}, {"name": "Round", "layers": [0, 0]}]}))
    monkeypatch.setattr(explorer, "_ask_open_path", lambda *a: str(old))
    click(explorer.edit.load_button)
    assert [r.name.text() for r in rows] == ["Thin", "Round", "Stroke width"]
    assert [r.layers() for r in rows] == [(1, 2), (0, 0), (4, 5)]
    assert "Loaded 2 directions" in window.message_bar.text()


def test_loaded_vectors_drive_the_sliders(window, qtbot, tmp_path, monkeypatch, model):
    give_weights(window, model, tmp_path / "fake-gan")
    grid = open_edit(window, qtbot, pick=0)
    explorer = window.explorer
    rows = explorer.edit.rows
    # a file with a vector of its own in place of direction 2 (the others are the model's)
    mine = np.linspace(-1.0, 1.0, 8, dtype=np.float32)
    mine /= np.linalg.norm(mine)
    path = tmp_path / "found.json"
    core_directions.save_directions(path, [
        core_directions.Direction("Direction 1", model.directions[0], (0, 5), 1.0),
        core_directions.Direction("Slant", mine, (1, 3), 1.5),
        core_directions.Direction("Direction 3", model.directions[2], (3, 5), 2.0)],
        model="fake-gan", num_layers=6)
    monkeypatch.setattr(explorer, "_ask_open_path", lambda *a: str(path))
    click(explorer.edit.load_button)
    assert rows[1].name.text() == "Slant" and rows[1].layers() == (1, 3)
    assert "σ = 1.5" in rows[1].name.toolTip()

    # its slider moves along the loaded vector: the edits carry it, with its σ
    rows[1].slider.setFocus()
    QTest.keyClick(rows[1].slider, Qt.Key.Key_PageUp)
    edits = json.loads(window.session.value("edits", "sample"))
    assert len(edits) == 1 and "direction" not in edits[0]
    assert edits[0]["sigma"] == 1.5 and edits[0]["amount"] == 0.5 and edits[0]["layers"] == [1, 3]
    assert np.allclose(edits[0]["vector"], mine)
    edit_settled(window, qtbot, edits=window.session.value("edits", "sample"))
    w = model.seed_w(grid.request.seed, 0.7)
    expected = w.copy()
    expected[1:4] += 0.5 * 1.5 * mine
    assert np.allclose(model.edit(w, edits), expected)
    assert np.array_equal(explorer.edit.result.images[0], model.synth(model.edit(w, edits)[None])[0])
    # the session's edits put the slider where it was
    explorer.session_changed_quietly()
    assert rows[1].amount() == pytest.approx(0.5) and rows[0].amount() == 0.0

    # saving writes the loaded vector back: the file round-trips
    again = tmp_path / "again.json"
    monkeypatch.setattr(explorer, "_ask_save_path", lambda *a: str(again))
    click(explorer.edit.save_button)
    loaded = core_directions.load_directions(again, w_dim=8, num_layers=6)
    assert [(d.name, d.layers, d.sigma) for d in loaded] == [
        ("Direction 1", (0, 5), 1.0), ("Slant", (1, 3), 1.5), ("Direction 3", (3, 5), 2.0)]
    assert np.allclose(loaded[1].vector, mine)
    assert np.array_equal(loaded[0].vector, model.directions[0])
    assert np.array_equal(loaded[2].vector, model.directions[2])


def test_the_walk_plays_and_stops(window, qtbot):
    window.explorer.set_view("walk")
    assert window.params.op_combo.currentData() == "walk"
    window.params.set_value("points", 2)
    window.params.set_value("frames_per_point", 4)
    result = generate(qtbot, window)
    view = window.explorer.walk
    assert result.request.op == "walk" and result.count == 8
    assert view.is_playing()  # a new walk plays at once
    view.fps.setValue(60)
    seen = set()
    view.frame_changed.connect(seen.add)
    qtbot.waitUntil(lambda: len(seen) >= 4)  # the timer moves the frames on
    # Space in the Walk tab stops it; the frame stays
    view.canvas.setFocus()
    QTest.keyClick(view.canvas, Qt.Key.Key_Space)
    assert not view.is_playing() and view.play_button.text() == "Play"
    stopped = view.frame
    assert np.array_equal(view.canvas.pixmap().toImage().pixelColor(0, 0).red(),
                          result.images[stopped][0, 0, 0])
    QTest.keyClick(view.canvas, Qt.Key.Key_Space)
    assert view.is_playing() and view.play_button.text() == "Stop"
    click(view.play_button)
    assert not view.is_playing()
    # without Repeat it plays once to the last frame and stops there
    view.repeat.setChecked(False)
    view.frame_slider.setValue(5)
    click(view.play_button)
    qtbot.waitUntil(lambda: not view.is_playing())
    assert view.frame == result.count - 1
    # scrubbing shows that frame
    view.frame_slider.setValue(2)
    assert view.frame == 2 and view.frame_label.text() == "3 / 8"
    # another tab stops the player
    click(view.play_button)
    window.explorer.set_view("samples")
    assert not view.is_playing()


def test_exporting_the_walk_writes_an_animation_and_its_recipe(window, qtbot, tmp_path, monkeypatch):
    window.explorer.set_view("walk")
    window.params.set_value("points", 2)
    window.params.set_value("frames_per_point", 3)
    result = generate(qtbot, window)
    window.explorer.walk.stop()
    window.explorer.walk.fps.setValue(20)
    target = tmp_path / "walk.webp"
    monkeypatch.setattr(window, "_ask_save_path", lambda *a: str(target))
    click(window.explorer.walk.export_button)
    assert target.exists()
    assert export.sidecar_path(target).exists()
    assert export.open_recipe(target).same_recipe(result.request)
    frames = media.read_animation(target)
    assert len(frames) == result.count == 6
    # opening the animation restores the walk from its sidecar: the same frames again
    window.explorer.set_view("samples")
    window.session.set_value("points", 5, op="walk")
    window.open_files([str(target)])
    qtbot.waitUntil(lambda: window.last_result is not result and not window.busy())
    again = window.last_result
    assert window.explorer.current_view() == "walk" and window.params.op_combo.currentData() == "walk"
    assert window.params.value("points") == 2
    assert np.array_equal(again.images, result.images)
    assert len(window.history) == 1  # a restore makes nothing new


def test_style_mix_matrix_and_its_layer_choice(window, qtbot):
    explorer = window.explorer
    explorer.set_view("mix")
    view = explorer.mix
    assert view.layer_buttons["fine"].isChecked() and view.rows_edit.text() == "1,2,3,4"
    assert "layers 4–5" in view.layer_buttons["fine"].toolTip()
    view.rows_edit.setFocus()
    view.rows_edit.selectAll()
    QTest.keyClicks(view.rows_edit, "3,9")
    before = window.last_result
    # Generate (Ctrl+Enter) renders it, with the seeds still being typed
    QTest.keyClick(view.rows_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_result is not before and not window.busy())
    result = view.result
    assert result.request.params["row_seeds"] == "3,9" and result.count == 3 * 5
    assert view.canvas._columns == 5 and len(view.canvas._row_labels) == 3
    assert "(layers 4–5)" in view.caption.text()
    # the first row shows the column seeds as they are; a cell takes only their fine layers
    click(view.layer_buttons["coarse"])
    qtbot.waitUntil(lambda: view.result.request.params["layers"] == "coarse" and window.engine.idle())
    assert window.session.value("layers", "mix") == "coarse"
    assert window.params.value("layers") == "coarse"
    assert "(layers 0–1)" in view.caption.text()
    assert len(window.history) == 1  # the live re-render is not kept


def test_arithmetic_from_the_op_chooser(window, qtbot):
    combo = window.params.op_combo
    combo.setCurrentIndex(combo.findData("arithmetic"))
    combo.activated.emit(combo.currentIndex())
    result = generate(qtbot, window)
    assert result.count == 4 and result.labels == ("a", "b", "c", "a − b + c")
    assert window.explorer.seeds.canvas.cell_label(3) == "a − b + c"
    assert np.allclose(result.latents[3], result.latents[0] - result.latents[1] + result.latents[2])


def test_generate_with_the_project_op_opens_the_dialog(window, qtbot):
    combo = window.params.op_combo
    combo.setCurrentIndex(combo.findData("project"))
    combo.activated.emit(combo.currentIndex())
    QTest.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.explorer.dialog is not None and window.explorer.dialog.isVisible()
    assert window.engine.idle() and not window.busy()  # nothing runs before an image is given


def test_an_image_dropped_on_the_projection_dialog_is_read_off_the_gui_thread(window, qtbot, tmp_path,
                                                                             monkeypatch):
    """Even an exported PNG is an image to project here: its recipe is not restored."""
    import threading

    explorer = window.explorer
    result = generate(qtbot, window)
    click(explorer.seeds.project_button)
    dialog = explorer.dialog
    exported = export.export_png(tmp_path / "exported.png", result, index=1)
    threads = []
    real_decode = media._decode_upright

    def recording_decode(*args, **kwargs):
        threads.append(threading.current_thread())
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(media, "_decode_upright", recording_decode)
    drop_files(dialog.target, [exported])
    qtbot.waitUntil(lambda: dialog.image is not None)
    assert threads and threading.main_thread() not in threads
    assert np.array_equal(dialog.image, result.images[1]) and dialog.start_button.isEnabled()
    assert window.last_result is result and window.engine.idle()  # nothing restored or run
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n nothing more")
    drop_files(dialog.target, [bad])
    qtbot.waitUntil(lambda: "bad.png" in dialog.status.text())
    assert np.array_equal(dialog.image, result.images[1])  # the image before is kept


def test_the_projection_dialog_cancelled_midway(window, qtbot, tmp_path, monkeypatch):
    explorer = window.explorer
    generate(qtbot, window)
    click(explorer.seeds.project_button)
    dialog = explorer.dialog
    assert isinstance(dialog, ProjectionDialog) and dialog.isVisible()
    assert not dialog.start_button.isEnabled() and dialog.cancel_button.text() == "Close"
    path = write_png(tmp_path / "mine.png", size=24, rgb=True)
    monkeypatch.setattr(explorer, "_ask_open_path", lambda *a: str(path))
    click(dialog.choose_button)
    qtbot.waitUntil(dialog.target.has_content)  # read on the image loader's thread
    assert dialog.start_button.isEnabled()
    FakeGANModel.step_delay = 0.02  # 200 steps: 4 s unless cancelled
    click(dialog.start_button)
    job = dialog.job
    qtbot.waitUntil(lambda: dialog.progress.value() > 0 and dialog.preview.has_content())
    assert window.busy() and not dialog.start_button.isEnabled()
    assert "loss" in dialog.status.text()
    click(dialog.cancel_button)
    qtbot.waitUntil(lambda: dialog.state == "cancelled" and not window.busy())
    assert job.state.value == "cancelled"
    assert 0 < dialog.progress.value() < 1000
    assert len(window.history) == 1 and window.last_result.request.op == "sample"
    assert explorer.subject is None and explorer.current_view() == "samples"
    assert dialog.isVisible() and dialog.start_button.isEnabled()  # can start again
    # the app goes on
    click(dialog.cancel_button)  # now "Close"
    assert not dialog.isVisible()
    FakeGANModel.step_delay = 0.0
    again = generate(qtbot, window)
    assert again.request.op == "sample" and len(window.history) == 2


def test_a_finished_projection_becomes_the_image_the_sliders_edit(window, qtbot, tmp_path, model):
    explorer = window.explorer
    path = write_png(tmp_path / "mine.png", size=24, rgb=True)
    drop_files(explorer.seeds.canvas, [path])  # a dropped image opens the dialog on it
    dialog = explorer.dialog
    assert dialog.isVisible() and dialog.target.has_content()
    dialog.steps.setValue(20)
    click(dialog.start_button)
    qtbot.waitUntil(lambda: not window.busy() and explorer.edit.result is not None)
    result = window.last_result
    assert result.request.op == "project" and result.request.params["steps"] == 20
    assert result.extras["losses"][-1] < result.extras["losses"][0]
    assert not dialog.isVisible() and len(window.history) == 1
    assert explorer.current_view() == "edit"
    assert explorer.subject[0] == "latent" and np.array_equal(explorer.subject[1], result.latents[0])
    assert not explorer.edit.truncation_slider.isEnabled()  # ψ acts on seeds only
    # a direction moves the projected code
    row = explorer.edit.rows[0]
    row.slider.setFocus()
    QTest.keyClick(row.slider, Qt.Key.Key_PageUp)
    edit_settled(window, qtbot, edits=window.session.value("edits", "sample"))
    shown = explorer.edit.result
    assert np.array_equal(shown.request.inputs["latent"], result.latents[0])
    edits = json.loads(shown.request.params["edits"])
    assert np.array_equal(shown.images[0], model.synth(model.edit(result.latents[0], edits)[None])[0])


def test_switching_families_switches_the_explorer(window, qtbot):
    generate(qtbot, window)
    gan = window.explorer
    window.models.select("fake-model")
    window.select_model("fake-model")
    assert window.explorer is not gan
    assert [window.explorer.tabText(i) for i in range(4)] == ["Samples", "Interpolate", "Traverse", "Map"]
    assert [a.text() for a in window.view_actions if a.isVisible()][:2] == ["Samples", "Interpolate"]
    assert window.explorer.samples.result is None  # another model's images never show here
    shown = gan.seeds.result
    window.select_model("fake-gan")
    # back to the GAN: its own explorer, with its grid as it was (issue 13, point 2)
    assert window.explorer is gan and window.explorer.current_view() == "samples"
    assert gan.seeds.result is shown is not None


def test_the_directions_reader_takes_the_core_format_and_old_names_only_files(tmp_path):
    full = tmp_path / "full.json"  # the core format: vectors and σ beside names and ranges
    core_directions.save_directions(full, [core_directions.Direction(
        "Smile", np.arange(8, dtype=np.float32), (1, 3), 1.5)], model="fake-gan", num_layers=6)
    model_id, entries = gan_explorer.read_directions(full, w_dim=8, num_layers=6)
    assert model_id == "fake-gan" and len(entries) == 1
    assert entries[0]["name"] == "Smile" and entries[0]["layers"] == [1, 3]
    assert entries[0]["sigma"] == 1.5 and np.array_equal(entries[0]["vector"], np.arange(8))
    with pytest.raises(ValueError, match="this model's w has 16"):  # made for another w
        gan_explorer.read_directions(full, w_dim=16)
    with pytest.raises(ValueError, match="6 layers, this one has 7"):
        gan_explorer.read_directions(full, num_layers=7)
    old = tmp_path / "old.json"  # what the explorer wrote before
    old.write_text(json.dumps({"model": "fake-gan", "directions": [{"name": "Smile", "layers": [1, 3]}]}))
    assert gan_explorer.read_directions(old) == ("fake-gan", [{"name": "Smile", "layers": [1, 3]}])
    for bad, message in (("{", "not a readable"), ('{"directions": []}', "not a directions file"),
                         ('{"model": "m", "directions": [{"name": "x"}]}', "direction 1 needs"),
                         ('{"format": "latent-studio/directions", "version": 1, "directions": '
                          '[{"name": "x", "layers": [0, 1]}]}', "lacks 'vector'")):
        (tmp_path / "bad.json").write_text(bad)
        with pytest.raises(ValueError, match=message):
            gan_explorer.read_directions(tmp_path / "bad.json")
