"""Exports carry their recipe; the history persists across instances."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.core import media
from studio.core.export import (
    export_animation,
    export_contact_sheet,
    export_png,
    open_recipe,
    recipe_index,
    sidecar_path,
)
from studio.core.history import History
from studio.core.requests import RecipeError, Request, Result


def make_result(count: int = 4, op: str = "sample", **params) -> Result:
    rng = np.random.default_rng(count)
    images = rng.integers(0, 256, (count, 8, 8, 1), dtype=np.uint8)
    request = Request("vae-glyphs", op, {"seed": 12, "count": count, "temperature": 0.8, **params},
                      {"latent": rng.standard_normal((4, 2, 2)).astype(np.float32)})
    return Result(request, images, columns=2)


def test_png_export_round_trips_the_recipe_and_writes_a1111_parameters(tmp_path):
    result = make_result()
    path = export_png(tmp_path / "out.png", result, family="vae")
    again = open_recipe(path)
    assert again.same_recipe(result.request)
    _, parameters = media.read_png_recipe(path)
    lines = parameters.splitlines()
    assert lines[0] == "sample"  # no prompt or class: the op name
    fields = media.parse_parameters(parameters)
    assert fields["Steps"] == "1" and fields["Seed"] == "12" and fields["Model"] == "vae-glyphs"
    assert fields["Sampler"] == "vae sample"
    # the whole 2×2 grid, 1-px gaps and border
    assert media.load_image(path).shape == (2 * 8 + 3, 2 * 8 + 3, 3)


def test_png_of_one_image_records_its_index(tmp_path):
    path = export_png(tmp_path / "one.png", make_result(), index=3)
    assert recipe_index(path) == 3
    assert np.array_equal(media.load_image(path)[..., :1], make_result().images[3])


def test_animation_export_has_a_sidecar_and_a_comment(tmp_path):
    result = make_result(count=5, op="interpolate")
    for suffix in (".gif", ".webp"):
        path = export_animation(tmp_path / f"walk{suffix}", result, fps=10)
        assert sidecar_path(path).exists()
        assert open_recipe(path).same_recipe(result.request)
        comment = json.loads(media.read_animation_comment(path))
        assert comment["op"] == "interpolate"
        assert len(media.read_animation(path)) == 5


def test_contact_sheet(tmp_path):
    path = export_contact_sheet(tmp_path / "sheet.png", make_result(6).images, columns=3,
                                labels=[str(i) for i in range(6)], scale=2)
    sheet = media.load_image(path)
    assert sheet.shape[1] > 3 * 16 and sheet.shape[0] > 2 * 16


def test_open_recipe_names_the_file_on_bad_input(tmp_path):
    plain = tmp_path / "plain.png"
    media.save_png(plain, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(RecipeError, match="plain.png: has no Latent Studio recipe"):
        open_recipe(plain)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RecipeError, match="broken.json"):
        open_recipe(broken)
    truncated = tmp_path / "cut.png"
    export_png(truncated, make_result())
    truncated.write_bytes(truncated.read_bytes()[:-30])
    with pytest.raises(media.MediaError, match="cut.png"):
        open_recipe(truncated)


def test_history_persists_and_restores_requests(tmp_path):
    history = History(tmp_path)
    first = history.add(make_result(2))
    history.add(make_result(3))
    reopened = History(tmp_path)
    assert [e.id for e in reopened.entries()] == [e.id for e in history.entries()]
    restored = reopened.entries()[0].request()
    assert restored.same_recipe(first.request())
    assert reopened.entries()[0].image_path.exists()


def test_history_limit_deletes_old_files(tmp_path):
    history = History(tmp_path, limit=2)
    first = history.add(make_result(1))
    history.add(make_result(2))
    history.add(make_result(3))
    assert len(history) == 2 and not first.image_path.exists()


def test_corrupt_history_index_is_set_aside_not_fatal(tmp_path):
    history = History(tmp_path)
    history.add(make_result(1))
    (history.folder / "index.json").write_text("{garbage")
    reopened = History(tmp_path)
    assert len(reopened) == 0 and "unreadable history index" in reopened.problems[0]
    assert (history.folder / "index.json.bak").exists()
    reopened.add(make_result(2))
    assert len(History(tmp_path)) == 1


def test_background_history_writes_in_order_behind_the_caller(tmp_path):
    history = History(tmp_path, limit=5, background=True)
    added = [history.add(make_result(1 + i % 3)) for i in range(8)]
    # the entries (and their pictures, for thumbnails) are there at once
    assert [e.id for e in history.entries()] == [e.id for e in added[-5:]]
    history.flush()
    from PIL import Image

    on_disk = np.asarray(Image.open(added[-1].image_path))
    np.testing.assert_array_equal(added[-1].picture.reshape(on_disk.shape), on_disk)
    reopened = History(tmp_path)
    assert [e.id for e in reopened.entries()] == [e.id for e in added[-5:]]
    assert all(e.image_path.exists() for e in reopened.entries())
    assert not any(e.image_path.exists() for e in added[:3])  # over the limit: deleted
    assert reopened.entries()[-1].request().same_recipe(added[-1].request())
    history.remove(added[-1].id)
    history.close()
    assert len(History(tmp_path)) == 4 and not added[-1].image_path.exists()


def test_background_history_reports_a_failed_write_and_keeps_going(tmp_path, monkeypatch):
    import studio.core.history as history_module

    history = History(tmp_path, background=True)
    problems: list[str] = []
    history.on_problem = problems.append

    def disk_full(path, *args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history_module, "export_png", disk_full)
    entry = history.add(make_result(2))
    history.flush()
    assert len(problems) == 1 and entry.image_path.name in problems[0]
    assert "No space left" in problems[0] and history.problems == problems
    monkeypatch.undo()
    history.add(make_result(3))  # the writer goes on
    history.close()
    assert [e.count for e in History(tmp_path).entries()] == [3]  # the lost PNG is not listed


def _age(path, seconds=3600.0):
    """Make a file look left behind by an earlier session (orphans younger than a minute
    may be another window's write in progress)."""
    import os
    import time

    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.mark.parametrize("how", ["clear", "remove", "trim"])
def test_history_never_deletes_a_file_named_outside_its_folder(tmp_path, how):
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    history = History(tmp_path / "home", limit=2)
    entry = history.add(make_result(1))
    index_path = history.folder / "index.json"
    index = json.loads(index_path.read_text())
    index["entries"][0]["image_path"] = str(victim)  # an absolute path, as an attacker writes it
    index["entries"].append({**index["entries"][0], "id": "dots", "image_path": "../../precious.txt"})
    index_path.write_text(json.dumps(index))
    reopened = History(tmp_path / "home", limit=2)
    assert entry.id not in [e.id for e in reopened.entries()]
    assert any("precious.txt" in p and "entry skipped" in p for p in reopened.problems)
    if how == "clear":
        reopened.clear()
    elif how == "remove":
        with pytest.raises(KeyError):
            reopened.remove(entry.id)
    else:
        for count in (1, 2, 3):
            reopened.add(make_result(count))
    assert victim.read_text() == "keep me"


def test_history_start_removes_what_a_kill_left_behind(tmp_path):
    history = History(tmp_path)
    kept, lost = history.add(make_result(1)), history.add(make_result(2))
    folder = history.folder
    lost.image_path.unlink()  # an index entry whose PNG is gone
    orphan = folder / "20260101-000000-abcdef.png"  # a PNG the index never got
    orphan.write_bytes(kept.image_path.read_bytes())
    temps = [folder / ".~0badc0de.tmp", folder / f".{kept.image_path.name}.1234abcd.tmp.png"]
    for temp in temps:
        temp.write_bytes(b"")
    for path in (orphan, *temps):
        _age(path)
    fresh = folder / "20260101-000001-fedcba.png"  # another window's write in progress
    fresh.write_bytes(b"")

    reopened = History(tmp_path)
    assert [e.id for e in reopened.entries()] == [kept.id] and kept.image_path.is_file()
    assert not orphan.exists() and not any(t.exists() for t in temps)
    assert fresh.exists()
    index = json.loads((folder / "index.json").read_text())
    assert [row["id"] for row in index["entries"]] == [kept.id]  # the missing one is gone


def test_history_keeps_the_pngs_of_an_index_set_aside(tmp_path):
    history = History(tmp_path)
    first = history.add(make_result(1))
    (history.folder / "index.json").write_text("{garbage")
    reopened = History(tmp_path)
    reopened.add(make_result(2))
    _age(first.image_path)
    History(tmp_path)
    assert first.image_path.exists()  # still named by index.json.bak, which the user may restore


def test_history_finds_the_entry_of_an_identical_recipe(tmp_path):
    history = History(tmp_path)
    result = make_result()
    entry = history.add(result)
    history.add(Result(result.request.with_params(seed=99), result.images))
    assert history.find(result.request) == entry
    assert history.find(result.request.with_params(seed=5)) is None
    other_inputs = result.request.with_inputs(latent=np.zeros((1, 2), np.float32))
    assert history.find(other_inputs) is None
