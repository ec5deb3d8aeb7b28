"""Opening a model opens a useful tab (issue 13, point 5), through the real window: a model
of the same explorer kind does not inherit the other's tab; each model keeps its own."""

from __future__ import annotations

from tests.fakes import fake_diffusion_card
from tests.ui.conftest import Services, make_window


def test_a_model_opens_on_its_own_tab_not_the_last_models(qtbot, tmp_path, settings):
    services = Services(tmp_path / "home", cards=(
        fake_diffusion_card("pixels", name="Pixels"), fake_diffusion_card("latents", name="Latents")))
    try:
        window = make_window(qtbot, services, settings, model_id="pixels")
        explorer = window.explorer
        last = explorer.VIEWS[-1]
        explorer.set_view(last)  # e.g. the Timeline
        assert window.session.view == last
        window.models.select("latents")
        assert window.session.model_id == "latents"
        other = window.explorer  # the same kind of explorer, the model's own
        assert type(other) is type(explorer) and other is not explorer
        assert other.current_view() == explorer.VIEWS[0]  # its first tab, not the Timeline
        window.models.select("pixels")
        assert window.explorer is explorer
        assert explorer.current_view() == last  # the first model's tab came back
        window.close()
    finally:
        services.engine.shutdown()


def test_a_class_is_chosen_from_a_list_whose_first_entry_is_random(qtbot, tmp_path, settings):
    from PySide6.QtWidgets import QComboBox

    card = fake_diffusion_card("pixels", name="Pixels")
    services = Services(tmp_path / "home", cards=(card,))
    try:
        window = make_window(qtbot, services, settings, model_id="pixels")
        combo = window.params.editor("class_index")
        assert isinstance(combo, QComboBox)
        items = [combo.itemText(i) for i in range(combo.count())]
        assert items == ["Random", *card.classes]
        assert combo.currentText() == "Random" and window.session.value("class_index") == -1
        combo.setCurrentIndex(3)  # as a user picks the third class
        assert window.session.value("class_index") == 2
        negative = window.params.editor("negative_class_index")
        assert isinstance(negative, QComboBox) and negative.itemText(0) == "None"
        before = window.last_result
        window.generate()
        qtbot.waitUntil(lambda: window.last_result is not before and not window.busy(), timeout=10000)
        assert window.last_result.request.params["class_index"] == 2
        window.close()
    finally:
        services.engine.shutdown()


def test_switching_inpaint_to_image_to_image_keeps_count_and_seed(qtbot, tmp_path, settings):
    services = Services(tmp_path / "home", cards=(fake_diffusion_card("pixels", name="Pixels"),))
    try:
        window = make_window(qtbot, services, settings, model_id="pixels")
        explorer = window.explorer
        paint = next(view for view in explorer.VIEWS if "inpaint" in explorer.OPS_OF_VIEW.get(view, ()))
        explorer.set_view(paint)
        window.session.set_op("inpaint")
        window.params.set_value("count", 3)  # as the user sets them in the panel
        window.params.set_value("seed", 4321)
        index = window.params.op_combo.findData("img2img")
        window.params.op_combo.setCurrentIndex(index)
        window.params.op_combo.activated.emit(index)
        assert window.session.op == "img2img"
        assert window.params.value("count") == 3 and window.params.value("seed") == 4321
        window.close()
    finally:
        services.engine.shutdown()
