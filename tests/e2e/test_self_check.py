"""The packaged app's self-check, run in-process against the source tree (make test
covers its logic; make package-test runs the same code frozen)."""

from __future__ import annotations

import shutil
import time

from studio.cli import main
from studio.core.paths import builtin_models_dir
from studio.selfcheck import process_started_at, run_self_check


def test_self_check_passes_on_the_source_tree(qtbot, tmp_path):
    lines: list[str] = []
    code = run_self_check(tmp_path / "home", started=time.time(), say=lines.append)
    text = "\n".join(lines)
    assert code == 0, text
    assert "window shown" in text and "self-check: OK" in text
    builtins = sorted(p.name for p in builtin_models_dir().iterdir() if (p / "card.json").is_file())
    for model_dir in builtins:  # every built-in model was opened, made an image and came back
        assert f"ok {model_dir} " in text or any(line.startswith("self-check: ok ") and
                                                 model_dir in line for line in lines), text
    assert (tmp_path / "home" / "self-check-vae-glyphs.png").is_file()


def test_self_check_fails_on_a_broken_builtin_model(qtbot, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(builtin_models_dir() / "vae-glyphs", models / "vae-glyphs")
    weights = models / "vae-glyphs" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # truncated
    lines: list[str] = []
    code = run_self_check(tmp_path / "home", builtin_dir=models, say=lines.append, timeout=60)
    assert code == 1
    assert any("FAILED" in line and "vae-glyphs" in line for line in lines), lines


def test_the_process_start_time_is_in_the_past():
    started = process_started_at()
    assert 0 <= time.time() - started < 3600


def test_version_prints_the_pyproject_version(capsys):
    import tomllib

    from studio.core.paths import resources_dir

    pyproject = tomllib.loads((resources_dir().parent / "pyproject.toml").read_text())
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"Latent Studio {pyproject['project']['version']}"


def test_self_check_fails_on_an_unhandled_exception_in_a_slot(qtbot, tmp_path, monkeypatch):
    import sys
    import threading

    from studio.ui.main_window import MainWindow

    hooks = (sys.excepthook, threading.excepthook)

    def broken(self, state):
        raise AttributeError("the status bar lost its label")

    # a slot the check passes through (the loaded model's state), broken
    monkeypatch.setattr(MainWindow, "_show_cache_state", broken)
    lines: list[str] = []
    code = run_self_check(tmp_path / "home", say=lines.append, timeout=60)
    assert code == 1
    assert any("FAILED" in line and "the status bar lost its label" in line for line in lines), lines
    assert (sys.excepthook, threading.excepthook) == hooks  # handed back


def test_self_check_opens_each_of_several_models_from_the_welcome_view(qtbot, tmp_path):
    import json

    models = tmp_path / "models"
    for model_id in ("vae-glyphs", "vae-glyphs-copy"):
        shutil.copytree(builtin_models_dir() / "vae-glyphs", models / model_id)
        card = models / model_id / "card.json"
        card.write_text(json.dumps({**json.loads(card.read_text()), "id": model_id,
                                    "name": f"Glyph VAE ({model_id})"}))
    lines: list[str] = []
    assert run_self_check(tmp_path / "home", builtin_dir=models, say=lines.append) == 0, lines
    assert sum(line.startswith("self-check: ok vae-glyphs") for line in lines) == 2, lines
