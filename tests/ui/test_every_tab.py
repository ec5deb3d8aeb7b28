"""Generate does the obvious thing on every tab (issue 13, point 5), through the real
window with the built-in models: on a freshly opened model, every tab either shows what
to do in one line (its empty canvas says so) and Generate there either renders or says
in one line what it needs first; never a silent nothing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import make_window

FAMILIES = ("vae", "gan", "diffusion", "latent_diffusion", "flow", "autoregressive")
QUICK = {"count": 1, "steps": 4, "frames": 4, "rows": 2, "size": 3}  # where an op has them


@pytest.fixture(scope="module")
def services(tmp_path_factory):
    from studio.wiring import build_services

    made = build_services(home=tmp_path_factory.mktemp("home"), device="cpu", threads=1)
    yield made
    made.close()


def quicken(session) -> None:
    for op in session.ops():
        names = {p.name: p for p in op.scalar_params}
        values = {}
        for name, value in QUICK.items():
            spec = names.get(name)
            if spec is not None and spec.minimum is not None:
                values[name] = max(value, spec.minimum)
        session.set_values(values, op.name)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_tab_renders_or_says_what_to_do(qtbot, services, settings, family):
    model_id = next(e.id for e in services.library.entries() if e.family == family and e.builtin)
    window = make_window(qtbot, services, settings, model_id=model_id)
    quicken(window.session)
    explorer = window.explorer
    assert window.session.view == explorer.VIEWS[0]  # a model opens on its first tab
    try:
        for view in explorer.views:
            explorer.set_view(view)
            canvas = explorer.canvas()
            if canvas.count == 0:  # nothing rendered here yet: the canvas says what to do
                assert canvas.placeholder.strip(), f"{family}/{view}: an empty, silent canvas"
            window.message_bar.dismiss()
            before = window.last_result
            QTest.mouseClick(window.params.generate_button, Qt.MouseButton.LeftButton)
            qtbot.waitUntil(lambda b=before: (window.last_result is not b and not window.busy())
                            or bool(window.message_bar.text())
                            or (window.explorer.dialog is not None
                                and window.explorer.dialog.isVisible()
                                if hasattr(window.explorer, "dialog") else False),
                            timeout=120000)
            qtbot.waitUntil(lambda: not window.busy(), timeout=120000)
            rendered = window.last_result is not before
            said = window.message_bar.text()
            assert rendered or said, f"{family}/{view}: Generate did nothing and said nothing"
            if not rendered:
                assert "\n" not in said and len(said) < 200, f"{family}/{view}: {said!r}"
    finally:
        dialog = getattr(window.explorer, "dialog", None)
        if dialog is not None:
            dialog.close()
        window.close()
