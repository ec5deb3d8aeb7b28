"""A seventh family by registration alone: the test-only "dots" family (tests/seventh_family,
numpy only) is named in LATENT_STUDIO_PLUGINS and nowhere else, and shows up in the model
dock, the welcome view, Compare, the shortcut help, `studio models` and `studio generate`,
in this process and in a subprocess `studio`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.wiring import PLUGINS_VARIABLE, build_services, explorer_table, family_registry
from tests import seventh_family

ROOT = Path(__file__).resolve().parents[2]
ENV = {PLUGINS_VARIABLE: seventh_family.MODULE}
MODEL = "dots-glyphs"


def test_the_family_and_its_explorer_are_found_through_the_plugin_variable_only():
    assert "dots" not in family_registry({})
    assert "dots" not in explorer_table({})
    registry, table = family_registry(ENV), explorer_table(ENV)
    assert registry.get("dots").label == "Dots"
    assert registry.names()[-1] == "dots"  # after the built-ins, which are all still there
    assert {"vae", "gan", "diffusion", "flow", "autoregressive"} <= set(registry.names())
    assert table.kind_of(registry.get("dots").explorer) == "dots"
    assert table.get("dots").tabs() == ["Dots", "Field"]


@pytest.fixture
def studio(qtbot, tmp_path, settings_file):
    from PySide6.QtCore import QSettings

    from studio.ui.main_window import MainWindow

    builtin = tmp_path / "builtin"
    seventh_family.write_model_folder(builtin / MODEL)
    services = build_services(home=tmp_path / "home", builtin_dir=builtin,
                              registry=family_registry(ENV), threads=1)
    window = MainWindow(services.engine, services.library, services.registry, services.history,
                        settings=QSettings(str(settings_file), QSettings.Format.IniFormat),
                        explorers=explorer_table(ENV))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()
    services.close()


@pytest.fixture
def settings_file(tmp_path):
    return tmp_path / "settings.ini"


def test_the_window_shows_it_in_every_place(qtbot, studio):
    from tests.seventh_family.explorer import DotsExplorer

    window = studio
    # the model dock, under the family's label
    assert window.models.model_ids() == [MODEL]
    group = window.models.tree.topLevelItem(0)
    assert group.text(0) == "Dots"
    # opened in its own explorer, and it generates
    window.start(MODEL)
    qtbot.waitUntil(lambda: window.last_result is not None, timeout=20000)
    assert isinstance(window.explorer, DotsExplorer)
    assert [window.explorer.tabText(i) for i in range(window.explorer.count())] == ["Dots", "Field"]
    result = window.last_result
    assert result.request.model_id == MODEL and result.images.shape == (4, 8, 8, 3)
    assert window.explorer.samples.result is result
    # the parameter panel is built from its spec, and follows the session
    assert window.params.value("density") == pytest.approx(0.2)
    window.session.set_value("density", 0.5)
    assert window.params.value("density") == pytest.approx(0.5)
    # the welcome view
    dialog = window.show_welcome()
    assert dialog.family_labels["dots"].text() == seventh_family.DOTS.description
    assert MODEL in dialog.open_buttons
    dialog.close()
    # the shortcut help, from the registered explorers
    window.show_shortcuts()
    text = window.shortcuts_box.text()
    assert "Dots: Dots, Field" in text and "D (Dots tab)" in text
    assert "GAN: Seeds, Truncation & directions, Walk, Style mix" in text
    # Compare: a column for the built-in model on the shared data set, measured
    window.compare_action.trigger()
    compare = window.compare_dialog
    qtbot.waitUntil(lambda: not compare.busy(), timeout=20000)
    assert list(compare.columns) == [MODEL]
    assert compare.columns[MODEL].canvas.count > 0
    compare.close()


def _studio_command() -> list[str]:
    script = Path(sys.executable).with_name("studio")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from studio.cli import main; sys.exit(main())"]


def test_a_subprocess_studio_finds_it_too(tmp_path):
    folder = seventh_family.write_model_folder(tmp_path / "models" / MODEL)
    env = {**os.environ, **ENV, "LATENT_STUDIO_HOME": str(tmp_path / "home"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}

    def studio(*args: str) -> str:
        done = subprocess.run([*_studio_command(), *args], env=env, capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert studio("import", str(folder)).strip().splitlines()[-1] == MODEL
    listed = [line.split() for line in studio("models").splitlines()]
    assert [MODEL, "dots"] in [row[:2] for row in listed]
    assert "dots" in studio("generate", "--help")  # its ops, with the built-ins'
    assert "--density" in studio("generate", "--model", MODEL, "--help")
    out = tmp_path / "dots.png"
    studio("generate", "--model", MODEL, "--density", "0.5", "--count", "1", "--seed", "3",
           "-o", str(out))
    pixels = np.asarray(Image.open(out).convert("RGB"))
    # the family's own numpy render of seed 3, density 0.5
    rng = np.random.default_rng(3)
    dots = rng.random((8, 8)) < 0.5
    palette = np.array([[0.1, 0.2, 0.9], [0.9, 0.8, 0.1]], np.float32)
    expected = np.round(palette[dots.astype(int)] * 255).astype(np.uint8)
    assert np.array_equal(pixels, expected)
