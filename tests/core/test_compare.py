"""The comparison table (studio.core.compare): which models, which figures, formatting,
the best of a row, and the time per image taken from a real engine run."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from studio.core import compare
from studio.core.cache import ModelCache
from studio.core.cards import ModelCard
from studio.core.engine import Engine, JobState, validator_for
from studio.core.library import Library
from studio.core.registry import Registry
from studio.families import register_all
from tests.fakes import FakeEntry, FakeLibrary, fake_card, fake_gan_card, fake_registry

VAE_METRICS = {"recognisability": 0.869, "nn_distance_samples": 0.1065,
               "nn_distance_held_out": 0.10478, "reconstruction_mse": 0.00201,
               "dataset_ceiling": 0.99381, "samples": 256.0}
GAN_METRICS = {"recognisability": 0.91034, "class_accuracy": 0.976,
               "nn_distance_samples": 0.10838, "nn_distance_held_out": 0.10478}


def shared_library() -> FakeLibrary:
    library = FakeLibrary(
        fake_gan_card("gan-glyphs", name="Glyph GAN", dataset="glyphs", metrics=GAN_METRICS),
        fake_card("vae-glyphs", name="Glyph VAE", dataset="glyphs", metrics=VAE_METRICS),
        fake_card("vae-emoji", name="Emoji VAE", dataset="emoji", metrics=VAE_METRICS),
        fake_card("my-glyphs", name="My glyphs", dataset="glyphs", metrics=VAE_METRICS),
    )
    library._entries["my-glyphs"] = FakeEntry(library.get("my-glyphs").card, Path("/x"),
                                              builtin=False)
    return library


def test_rows_are_the_builtin_models_of_the_dataset_in_family_order():
    rows = compare.build_rows(shared_library(), fake_registry())
    # the fake VAE family is registered before the fake GAN: its model comes first,
    # whatever the library's order; user models and other datasets are left out
    assert [r.model_id for r in rows] == ["vae-glyphs", "gan-glyphs"]
    vae, gan = rows
    assert (vae.family, vae.family_label, gan.family_label) == ("fake", "Fake", "Fake GAN")
    # the traits come from the family's declaration, not from the model
    assert vae.strengths and "one forward pass" in vae.strengths
    assert "no likelihood" in gan.weaknesses
    assert compare.build_rows(shared_library(), fake_registry(), dataset="emoji")[0].model_id \
        == "vae-emoji"


def test_a_missing_figure_shows_a_dash_and_present_ones_are_rounded():
    vae, gan = compare.build_rows(shared_library(), fake_registry())
    assert vae.text("class_accuracy") == compare.MISSING == "—"
    assert vae.text("bits_per_dim") == "—"
    assert vae.text("reconstruction_mse") == "0.0020"
    assert gan.text("recognisability") == "0.910"
    assert gan.text("reconstruction_mse") == "—"
    assert vae.time_text == "—"  # not measured yet
    with pytest.raises(KeyError):
        vae.text("not_a_figure")


def test_only_named_models_in_their_order_and_unknown_ones_refused():
    rows = compare.build_rows(shared_library(), fake_registry(), model_ids=["gan-glyphs"])
    assert [r.model_id for r in rows] == ["gan-glyphs"]
    with pytest.raises(KeyError, match="vae-emoji"):
        compare.build_rows(shared_library(), fake_registry(), model_ids=["vae-emoji"])


def test_a_model_of_an_unknown_family_is_a_row_with_an_error():
    library = FakeLibrary(fake_card("odd", dataset="glyphs", family="mystery"))
    (row,) = compare.build_rows(library, fake_registry())
    assert "mystery" in row.error and row.time_text == "failed"


def test_best_of_a_row_follows_the_figure_direction_and_ignores_invisible_wins():
    rows = [compare.ModelRow("a", "A", "f", "F", {"recognisability": 0.90, "bits_per_dim": 3.2,
                                                   "nn_distance_samples": 0.1}),
            compare.ModelRow("b", "B", "f", "F", {"recognisability": 0.95, "bits_per_dim": 3.0,
                                                   "nn_distance_samples": 0.2}),
            compare.ModelRow("c", "C", "f", "F", {"recognisability": 0.95004})]
    assert compare.best(rows, "recognisability") == {"b", "c"}  # equal to 3 digits
    assert compare.best(rows, "bits_per_dim") == {"b"}  # lower is better
    assert compare.best(rows, "nn_distance_samples") == set()  # no better direction
    assert compare.best(rows, "class_accuracy") == set()  # nobody has it
    rows[0].seconds_per_image, rows[1].seconds_per_image = 0.002, 0.3
    assert compare.best(rows, "seconds_per_image") == {"a"}
    rows[0].error = "broke"
    assert compare.best(rows, "seconds_per_image") == set()  # one left: no contest


@pytest.mark.parametrize("seconds, text", [(None, "—"), (0.00004, "40 µs"), (0.0014, "1.4 ms"), (0.2123, "212 ms"),
                                           (2.5, "2.50 s"), (float("nan"), "—")])
def test_seconds_are_shown_in_readable_units(seconds, text):
    assert compare.format_seconds(seconds) == text


def test_time_per_image_is_measured_through_a_real_engine_run():
    library = shared_library()
    registry = fake_registry()
    engine = Engine(ModelCache(library, registry, device="cpu"), synchronous=True,
                    validate=validator_for(registry, library))
    rows = compare.build_rows(library, registry)
    for row in rows:
        request = compare.sample_request(row.model_id, images=4)
        assert (request.op, request.params["count"], request.seed) == ("sample", 4, compare.SEED)
        job = engine.submit(request)
        assert job.state is JobState.DONE and len(job.result.images) == 4
        compare.record_timing(row, job.result)
        assert row.seconds_per_image == pytest.approx(job.result.timings["run"] / 4)
        assert row.seconds_per_image > 0 and row.device == "cpu"
        assert row.time_text.endswith(("µs", "ms", " s"))
    compare.record_error(rows[0], "  out of memory  ")
    assert rows[0].error == "out of memory" and rows[0].seconds_per_image is None


def test_the_text_table_has_every_model_figure_note_and_trait():
    rows = compare.build_rows(shared_library(), fake_registry())
    rows[0].seconds_per_image, rows[0].device = 0.0015, "cpu"
    text = compare.format_table(rows, images=4)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("Model"))
    for figure in compare.FIGURES:
        assert figure.label in header
    assert compare.TIME_LABEL in header
    vae_line = next(line for line in lines if line.startswith("vae-glyphs"))
    assert "0.869" in vae_line and "0.0020" in vae_line and "1.5 ms" in vae_line
    gan_line = next(line for line in lines if line.startswith("gan-glyphs"))
    assert "0.976" in gan_line and gan_line.rstrip().endswith("—")  # not timed
    assert "batch of 4 samples" in text and "on cpu" in text
    assert "0.994 recognisability" in text and "0.105 from their nearest" in text
    assert any(line.startswith("Fake GAN: ") and "- no likelihood" in line for line in lines)
    untimed = compare.format_table(rows, timed=False)
    assert compare.TIME_LABEL not in untimed and "1.5 ms" not in untimed
    assert "No built-in models" in compare.format_table([])


def test_json_form_has_null_for_missing_figures():
    rows = compare.build_rows(shared_library(), fake_registry())
    data = json.loads(json.dumps(compare.to_json_dict(rows, images=9)))
    vae = data["models"][0]
    assert vae["id"] == "vae-glyphs" and vae["figures"]["class_accuracy"] is None
    assert vae["figures"]["recognisability"] == 0.869 and vae["seconds_per_image"] is None
    assert [f["key"] for f in data["figures"]] == [f.key for f in compare.FIGURES]


def _write_model(folder: Path, model_id: str, family: str, dataset: str) -> None:
    """A built-in model folder the real Library accepts: a card and a one-tensor
    safetensors file."""
    folder.mkdir(parents=True)
    ModelCard(id=model_id, name=model_id, family=family, resolution=32, channels=1,
              dataset=dataset, metrics={"bits_per_dim": 1.25}).write(folder)
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))


def test_a_new_builtin_model_is_picked_up_from_the_library_without_a_list(tmp_path):
    builtin = tmp_path / "models"
    _write_model(builtin / "vae-glyphs", "vae-glyphs", "vae", "glyphs")
    _write_model(builtin / "pixelcnn-glyphs", "pixelcnn-glyphs", "autoregressive", "glyphs")
    _write_model(builtin / "flow-glyphs", "flow-glyphs", "flow", "glyphs")
    _write_model(builtin / "vae-emoji", "vae-emoji", "vae", "emoji")
    library = Library(home=tmp_path / "home", builtin_dir=builtin)
    rows = compare.build_rows(library, register_all(Registry()))
    # catalog order: vae, ..., flow, autoregressive
    assert [r.model_id for r in rows] == ["vae-glyphs", "flow-glyphs", "pixelcnn-glyphs"]
    assert rows[1].text("bits_per_dim") == "1.250"
    assert "exact likelihood (bits/dim)" in rows[1].strengths
    assert "slow: one pass per pixel" in rows[2].weaknesses
