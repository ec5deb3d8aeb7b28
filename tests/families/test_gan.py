"""The GAN family: the shared contract on a tiny seeded GAN, then GAN specifics."""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from studio.core.cards import WEIGHTS_FILE, ModelCard
from studio.core.datasets import Split, make_glyphs
from studio.core.directions import (
    DirectionsError,
    load_directions,
    model_directions,
    save_directions,
)
from studio.core.family import Cancelled, JobContext, ModelLoadError
from studio.core.params import ParamError
from studio.core.training import TrainConfig, train_loop
from studio.families.gan.model import DISCRIMINATOR_FILE, GANConfig, GANFamily, translate
from studio.families.gan.spec import GAN
from tests.families.contract import FamilyContract

SIZE = 8  # tiny: 8 × 8 glyphs, two resolutions, so w+ codes are 3 × 8
LAYERS, W_DIM, DIRECTIONS = 3, 8, 4


def tiny_recipe(classes: int = 10) -> dict:
    return {
        "id": "gan-tiny", "name": "Tiny GAN", "family": "gan", "seed": 0,
        "dataset": {"name": "glyphs", "fonts": [], "size": SIZE, "cache": False},
        "config": {"resolution": SIZE, "channels": 1, "z_dim": 8, "w_dim": W_DIM,
                   "mapping_layers": 2, "num_classes": classes, "g_widths": [8, 8],
                   "d_widths": [8, 8], "num_directions": DIRECTIONS},
        "train": {"steps": 2, "batch_size": 8, "r1_interval": 2, "augment_translation": 0.125},
    }


def tiny_data() -> dict[str, Split]:
    train = make_glyphs(2, seed=0, fonts=[], size=SIZE, cache=False)
    held = make_glyphs(1, seed=1, fonts=[], size=SIZE, cache=False)
    return {"train": Split(*train), "held_out": Split(*held)}


def batch_of(data: dict[str, Split], i: int) -> dict[str, torch.Tensor]:
    split = data["train"]
    index = np.arange(i * 8, i * 8 + 8) % len(split)
    return {"images": torch.from_numpy(split.images[index]).permute(0, 3, 1, 2).float() / 255.0,
            "labels": torch.from_numpy(split.labels[index]).long()}


def make_tiny_gan(folder: Path, classes: int = 10, discriminator: bool = True) -> Path:
    """A seeded tiny GAN after two real training steps (so the EMA, the mean w and the
    directions are not at their initial values), exported to `folder`."""
    torch.manual_seed(0)
    data = tiny_data()
    trainable = GANFamily.make_trainable(tiny_recipe(classes), data)
    for i in range(2):
        trainable.step(batch_of(data, i))
    trainable.export(folder, {})
    if not discriminator:
        (folder / DISCRIMINATOR_FILE).unlink()
    return folder


class TestGANContract(FamilyContract):
    family = GAN

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_gan(tmp_path)


class TestUnconditionalGANContract(FamilyContract):
    """No classes and no discriminator file: project matches pixels only."""

    family = GAN

    def make_model_folder(self, tmp_path: Path) -> Path:
        return make_tiny_gan(tmp_path, classes=0, discriminator=False)


@pytest.fixture(scope="module")
def gan_folder(tmp_path_factory) -> Path:
    return make_tiny_gan(tmp_path_factory.mktemp("gan"))


@pytest.fixture(scope="module")
def gan(gan_folder: Path):
    return GANFamily.load(gan_folder, ModelCard.read(gan_folder), "cpu")


def run(model, op, params=None, ctx=None, **inputs):
    return model.run(op, params or {}, inputs, ctx or JobContext())


def close(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal images up to one grey level (batch size may round differently)."""
    return a.shape == b.shape and int(np.abs(a.astype(int) - b.astype(int)).max()) <= 1


def mean_code(model) -> np.ndarray:
    return np.repeat(model.w_avg.numpy()[None], LAYERS, axis=0)  # (layers, w_dim)


# -- the model and its weights --------------------------------------------------------


def test_card_config_and_shipped_tensors(gan, gan_folder: Path) -> None:
    card = gan.card
    assert card.latent_shape == [LAYERS, W_DIM] and card.classes == list("0123456789")
    assert GANConfig.from_dict(card.config).num_ws == LAYERS
    names = [d["name"] for d in card.config["directions"]]
    assert names == [f"Direction {k + 1}" for k in range(DIRECTIONS)]
    assert all(d["layers"] == [0, LAYERS - 1] and d["sigma"] > 0 for d in card.config["directions"])
    assert card.config["layer_ranges"] == {"coarse": [0, 0], "middle": [1, 2], "fine": [1, 2]}
    tensors = load_file(str(gan_folder / WEIGHTS_FILE))
    # the weights file holds the generator only: mapping (with mean w), synthesis, directions
    assert {k.split(".")[0] for k in tensors} == {"mapping", "synthesis", "directions"}
    assert "mapping.w_avg" in tensors and tensors["directions.vectors"].shape == (DIRECTIONS, W_DIM)
    vectors = tensors["directions.vectors"].double()
    np.testing.assert_allclose(vectors @ vectors.T, np.eye(DIRECTIONS), atol=1e-5)  # orthonormal
    sigmas = [d["sigma"] for d in card.config["directions"]]
    assert sigmas == sorted(sigmas, reverse=True)  # most variance first
    assert (gan_folder / DISCRIMINATOR_FILE).is_file() and gan.D is not None
    assert gan.class_conditional


def test_layer_ranges_of_the_builtin_size() -> None:
    cfg = GANConfig()  # 32 × 32: 4 × 4, 8 × 8 coarse; 16 × 16 middle; 32 × 32 fine
    assert cfg.num_ws == 7
    assert cfg.layer_ranges() == {"coarse": [0, 2], "middle": [3, 4], "fine": [5, 6]}


def test_translation_shifts_whole_images_and_fills_black() -> None:
    torch.manual_seed(0)
    x = torch.rand(16, 1, 8, 8) * 2 - 1
    y = translate(x, 0.25)  # up to 2 pixels
    assert y.shape == x.shape
    for a, b in zip(x, y):  # each output is its input shifted, with -1 where it came in
        found = False
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                padded = torch.nn.functional.pad(a, [2, 2, 2, 2], value=-1.0)
                window = padded[:, 2 + dy:2 + dy + 8, 2 + dx:2 + dx + 8]
                found = found or torch.equal(window, b)
        assert found


# -- sample: truncation, classes, edits ---------------------------------------------


def test_truncation_zero_gives_the_mean_w_image_for_every_seed(gan) -> None:
    out = run(gan, "sample", {"seed": 10, "count": 8, "truncation": 0.0})
    np.testing.assert_array_equal(out.latents, np.repeat(mean_code(gan)[None], 8, axis=0))
    assert (out.images == out.images[:1]).all()
    alone = run(gan, "sample", latent=mean_code(gan)).images[0]
    assert close(out.images[0], alone)
    # and truncation is a straight line towards the mean
    full = run(gan, "sample", {"seed": 10, "count": 8, "truncation": 1.0}).latents
    half = run(gan, "sample", {"seed": 10, "count": 8, "truncation": 0.5}).latents
    np.testing.assert_allclose(half, mean_code(gan) + 0.5 * (full - mean_code(gan)), atol=1e-5)
    assert not np.allclose(full[0], full[1])


def test_seeds_are_independent_of_the_count(gan) -> None:
    many = run(gan, "sample", {"seed": 4, "count": 5})
    one = run(gan, "sample", {"seed": 6, "count": 1})
    np.testing.assert_allclose(many.latents[2], one.latents[0], atol=1e-6)
    assert many.extras["seeds"] == [4, 5, 6, 7, 8] and many.labels[2].startswith("seed 6 · ")


def test_class_index_picks_the_class(gan) -> None:
    out = run(gan, "sample", {"seed": 0, "count": 6, "class_index": 7})
    assert out.extras["classes"] == [7] * 6 and out.labels[0] == "seed 0 · 7"
    drawn = run(gan, "sample", {"seed": 0, "count": 30}).extras["classes"]
    assert len(set(drawn)) > 3  # -1: a random class per seed
    other = run(gan, "sample", {"seed": 0, "count": 6, "class_index": 2})
    assert not np.allclose(out.latents, other.latents)  # the class moves w
    with pytest.raises(ParamError, match="class_index: 10 is outside -1..9"):
        run(gan, "sample", {"class_index": 10})


def test_latents_render_back_to_their_images(gan) -> None:
    """Every op's latents are the codes its images came from."""
    image = make_glyphs(1, seed=5, fonts=[], size=SIZE, cache=False)[0][3]
    outs = {
        "sample": run(gan, "sample", {"seed": 2, "count": 4,
                                      "edits": '[{"direction": 1, "amount": 1.5}]'}),
        "interpolate": run(gan, "interpolate", {"frames": 4, "space": "z"}),
        "walk": run(gan, "walk", {"points": 2, "frames_per_point": 3}),
        "mix": run(gan, "mix", {"row_seeds": "1,2", "column_seeds": "3"}),
        "project": run(gan, "project", {"steps": 10}, image=image),
        "arithmetic": run(gan, "arithmetic"),
    }
    for op, out in outs.items():
        assert len(out.latents) == len(out.images), op
        again = run(gan, "sample", latent=out.latents)
        assert close(again.images, out.images), op
        np.testing.assert_array_equal(again.latents, out.latents, err_msg=op)


def test_given_latents_are_used_as_they_are(gan) -> None:
    codes = run(gan, "sample", {"seed": 3, "count": 2, "truncation": 1.0}).latents
    for psi in (0.0, 0.7):  # truncation applies to seeds only
        out = run(gan, "sample", {"truncation": psi, "count": 9}, latent=codes)
        np.testing.assert_array_equal(out.latents, codes)
        assert out.labels == () and len(out.images) == 2


def test_direction_edits_move_the_chosen_layers_by_sigma(gan) -> None:
    base = run(gan, "sample", {"seed": 1, "count": 2})
    edits = [{"direction": 2, "amount": 1.5, "layers": [1, 1]}]
    edited = run(gan, "sample", {"seed": 1, "count": 2, "edits": json.dumps(edits)})
    delta = edited.latents - base.latents  # (2, layers, w_dim)
    sigma = gan.card.config["directions"][2]["sigma"]
    step = 1.5 * sigma * gan.vectors[2].numpy()
    np.testing.assert_allclose(delta[:, 1], np.stack([step, step]), atol=1e-5)
    assert np.abs(delta[:, [0, 2]]).max() == 0.0  # the other layers keep their styles
    assert not np.array_equal(edited.images, base.images)
    # without layers, a direction edits its own default range (all layers here); a vector
    # from a directions file works the same way, in its own σ
    vector = gan.vectors[0].numpy()
    by_index = run(gan, "sample", {"seed": 1, "edits": '[{"direction": 0, "amount": -2}]'})
    sigma0 = gan.card.config["directions"][0]["sigma"]
    by_vector = run(gan, "sample", {"seed": 1, "edits": json.dumps(
        [{"vector": vector.tolist(), "sigma": sigma0, "amount": -2}])})
    np.testing.assert_allclose(by_index.latents, by_vector.latents, atol=1e-5)
    single = run(gan, "sample", {"seed": 1}).latents
    np.testing.assert_allclose(by_index.latents[0] - single[0], np.tile(-2 * sigma0 * vector, (LAYERS, 1)),
                               atol=1e-5)
    # edits apply to given latents too
    on_latent = run(gan, "sample", {"edits": '[{"direction": 0, "amount": -2}]'}, latent=single[0])
    np.testing.assert_allclose(on_latent.latents, by_index.latents[:1], atol=1e-6)


@pytest.mark.parametrize("edits, message", [
    ("[{", "not valid JSON"),
    ('"up"', "expected a JSON list"),
    ('[{"direction": 0}]', "'amount' must be a finite number"),
    ('[{"direction": 0, "amount": "lots"}]', "'amount' must be a finite number"),
    ('[{"direction": 9, "amount": 1}]', "direction 9 is outside 0..3"),
    ('[{"direction": 0.5, "amount": 1}]', "'direction' must be a whole number"),
    ('[{"amount": 1}]', "either 'direction'"),
    ('[{"direction": 0, "vector": [1], "amount": 1}]', "either 'direction'"),
    ('[{"direction": 0, "amount": 1, "layers": [2, 1]}]', "layers [2, 1] are not a range within 0..2"),
    ('[{"direction": 0, "amount": 1, "layers": [0, 3]}]', "not a range within 0..2"),
    ('[{"direction": 0, "amount": 1, "layers": 1}]', "'layers' must be [first, last]"),
    ('[{"vector": [1, 2], "amount": 1}]', "'vector' must be a list of 8 finite numbers"),
    ('[{"direction": 0, "amount": 1, "strength": 2}]', "unknown key 'strength'"),
    ('[{"direction": 0, "amount": 1, "sigma": -1}]', "'sigma' must be a positive number"),
    ('[3]', "expected an object"),
])
def test_bad_edits_are_refused_with_a_clear_message(gan, edits, message) -> None:
    with pytest.raises(ParamError) as err:
        run(gan, "sample", {"edits": edits})
    assert message in str(err.value) and str(err.value).startswith("edits")


def test_wrong_latents_are_refused(gan) -> None:
    for bad, message in ((np.zeros((LAYERS + 1, W_DIM), np.float32), "expected a w+ latent of shape"),
                         (np.zeros((W_DIM,), np.float32), "expected a w+ latent of shape"),
                         (np.full((LAYERS, W_DIM), np.nan, np.float32), "NaN")):
        with pytest.raises(ParamError, match=re.escape(message)):
            run(gan, "sample", latent=bad)
    with pytest.raises(ParamError, match="latent_a: expected one w"):
        run(gan, "interpolate", latent_a=np.zeros((2, LAYERS, W_DIM), np.float32))


# -- paths: interpolate, walk ---------------------------------------------------------


def test_interpolate_in_w_and_in_z(gan) -> None:
    ends = run(gan, "sample", {"seed": 5, "count": 1}).latents[0], \
        run(gan, "sample", {"seed": 9, "count": 1}).latents[0]
    for space in ("w", "z"):
        out = run(gan, "interpolate", {"seed": 5, "seed_b": 9, "frames": 5, "space": space})
        assert out.columns == 5 and len(out.images) == 5 and out.extras["space"] == space
        np.testing.assert_allclose(out.latents[0], ends[0], atol=1e-4)
        np.testing.assert_allclose(out.latents[-1], ends[1], atol=1e-4)
    w_path = run(gan, "interpolate", {"seed": 5, "seed_b": 9, "frames": 5, "space": "w"}).latents
    np.testing.assert_allclose(w_path[2], (ends[0] + ends[1]) / 2, atol=1e-5)  # a straight line
    z_path = run(gan, "interpolate", {"seed": 5, "seed_b": 9, "frames": 5, "space": "z"}).latents
    assert not np.allclose(z_path[2], w_path[2], atol=1e-4)  # mapped, not straight in w
    # given latents have no z: the path is a line in w+, and says so
    a = run(gan, "sample", {"seed": 1}).latents[0]
    out = run(gan, "interpolate", {"frames": 3, "space": "z"}, latent_a=a)
    assert out.extras["space"] == "w"
    np.testing.assert_array_equal(out.latents[0], a)


def test_walk_loops_without_repeating_the_first_frame(gan) -> None:
    points, per = 3, 4
    keys = run(gan, "sample", {"seed": 20, "count": points}).latents
    for space in ("w", "z"):
        out = run(gan, "walk", {"seed": 20, "points": points, "frames_per_point": per,
                                "loop": True, "space": space})
        codes = out.latents
        assert len(codes) == points * per and out.extras["key_frames"] == [0, 4, 8]
        for k in range(points):  # the walk visits the seeds' codes
            np.testing.assert_allclose(codes[k * per], keys[k], atol=1e-4)
        assert not np.allclose(codes[-1], codes[0], atol=1e-4)  # no duplicate of the first
        # the last frame leads into the first like any other step of its leg
        if space == "w":
            np.testing.assert_allclose(codes[0] - codes[-1], codes[-1] - codes[-2], atol=1e-5)
        else:
            gap, step = np.abs(codes[0] - codes[-1]).sum(), np.abs(codes[-1] - codes[-2]).sum()
            assert 0.5 < gap / step < 2.0
    open_walk = run(gan, "walk", {"seed": 20, "points": points, "frames_per_point": per, "loop": False})
    assert len(open_walk.latents) == (points - 1) * per + 1
    np.testing.assert_allclose(open_walk.latents[-1], keys[-1], atol=1e-5)


# -- style mixing and arithmetic --------------------------------------------------------


def test_mix_matrix_and_identical_seeds_equal_the_plain_sample(gan) -> None:
    rows, cols = [3, 4], [4, 5, 6]
    out = run(gan, "mix", {"row_seeds": "3, 4", "column_seeds": "4,5,6", "layers": "middle"})
    assert out.columns == 4 and len(out.images) == 12
    assert out.labels[0] == "mean w" and out.extras["layers"] == [1, 2]
    plain = {s: run(gan, "sample", {"seed": s}) for s in set(rows + cols)}
    for c, seed in enumerate(cols):  # the first row: the column seeds
        np.testing.assert_array_equal(out.latents[1 + c], plain[seed].latents[0])
    for r, seed in enumerate(rows):  # the first column: the row seeds
        np.testing.assert_array_equal(out.latents[(r + 1) * 4], plain[seed].latents[0])
    # row seed 4 mixed with column seed 4 is seed 4's own image
    cell = (2 * 4) + 1
    np.testing.assert_array_equal(out.latents[cell], plain[4].latents[0])
    assert close(out.images[cell], plain[4].images[0])
    # a mixed cell: the row's coarse layer, the column's middle layers
    mixed = out.latents[(1 * 4) + 2]  # row seed 3, column seed 5
    np.testing.assert_array_equal(mixed[0], plain[3].latents[0][0])
    np.testing.assert_array_equal(mixed[1:], plain[5].latents[0][1:])
    for bad in ("", "1,x", ",".join(["1"] * 17)):
        with pytest.raises(ParamError, match="row_seeds"):
            run(gan, "mix", {"row_seeds": bad})


def test_arithmetic_is_a_minus_b_plus_c_in_w(gan) -> None:
    out = run(gan, "arithmetic", {"seed": 1, "seed_b": 2, "seed_c": 3})
    a, b, c, result = out.latents
    np.testing.assert_allclose(result, a - b + c, atol=1e-6)
    assert out.columns == 4 and out.labels == ("a", "b", "c", "a − b + c")
    np.testing.assert_array_equal(a, run(gan, "sample", {"seed": 1}).latents[0])
    given = run(gan, "arithmetic", {"seed": 1}, latent_b=a)  # a − a + c = c
    np.testing.assert_allclose(given.latents[3], given.latents[2], atol=1e-6)


# -- projection -----------------------------------------------------------------------


def test_projection_lowers_its_loss_with_progress_and_previews(gan) -> None:
    target = run(gan, "sample", {"seed": 8, "truncation": 1.0}).images[0]
    fractions, previews = [], []
    ctx = JobContext(on_progress=lambda f, m: fractions.append(f),
                     on_preview=previews.append, min_interval=0.0)
    out = run(gan, "project", {"steps": 40, "learning_rate": 0.1}, ctx=ctx, image=target)
    losses = out.extras["losses"]
    assert len(losses) == 40 and out.extras["features"] == "discriminator"
    assert out.extras["loss"] < 0.5 * losses[0] and min(losses[-5:]) < losses[0]
    assert len(fractions) >= 40 and fractions[-1] == 1.0
    assert len(previews) >= 2 and previews[0].shape == (1, SIZE, SIZE, 1)
    assert out.latents.shape == (1, LAYERS, W_DIM) and out.extras["target"].shape == (SIZE, SIZE, 1)
    # closer to the target than where it started, the mean-w image
    start = run(gan, "sample", {"truncation": 0.0}).images[0].astype(float)
    err = lambda x: float(((x.astype(float) - target.astype(float)) ** 2).mean())  # noqa: E731
    assert err(out.images[0]) < err(start)


def test_projection_can_be_cancelled_midway(gan) -> None:
    event = threading.Event()
    seen = []

    def on_progress(fraction, message):
        seen.append(fraction)
        if len(seen) == 5:
            event.set()

    ctx = JobContext(cancel_event=event, on_progress=on_progress, min_interval=0.0)
    image = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(Cancelled):
        run(gan, "project", {"steps": 500}, ctx=ctx, image=image)
    assert len(seen) == 5


# -- directions -----------------------------------------------------------------------


def test_directions_file_round_trip(gan, gan_folder: Path, tmp_path: Path) -> None:
    card = gan.card
    directions = model_directions(gan_folder, card.config)
    assert [d.name for d in directions] == [f"Direction {k + 1}" for k in range(DIRECTIONS)]
    np.testing.assert_allclose(directions[1].vector, gan.vectors[1].numpy())
    directions[0].name = "Stroke weight"
    directions[1].layers = (1, 2)
    path = save_directions(tmp_path / "mine.directions.json", directions, model=card.id,
                           num_layers=LAYERS)
    again = load_directions(path, w_dim=W_DIM, num_layers=LAYERS)
    assert [(d.name, d.layers, d.sigma) for d in again] == [(d.name, d.layers, d.sigma) for d in directions]
    for a, b in zip(again, directions):
        np.testing.assert_array_equal(a.vector, b.vector)
    with pytest.raises(DirectionsError, match="this model's w has 16"):
        load_directions(path, w_dim=16)
    with pytest.raises(DirectionsError, match="made for a model with 3 layers"):
        load_directions(path, num_layers=7)
    # a loaded direction drives sample through its vector, with its own range and σ
    d = again[1]
    edits = json.dumps([{"vector": d.vector.tolist(), "sigma": d.sigma, "amount": 1.0,
                         "layers": list(d.layers)}])
    moved = run(gan, "sample", {"seed": 2, "edits": edits}).latents[0]
    base = run(gan, "sample", {"seed": 2}).latents[0]
    np.testing.assert_allclose(moved[1:] - base[1:], np.tile(d.sigma * d.vector, (2, 1)), atol=1e-5)
    np.testing.assert_array_equal(moved[0], base[0])


# -- loading errors -------------------------------------------------------------------


def _copy_folder(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in ("card.json", WEIGHTS_FILE, DISCRIMINATOR_FILE):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_wrong_or_missing_tensors_are_named(gan_folder: Path, tmp_path: Path) -> None:
    folder = _copy_folder(gan_folder, tmp_path / "bad")
    tensors = load_file(str(gan_folder / WEIGHTS_FILE))
    tensors["synthesis.const"] = torch.zeros(3, 3, 3)
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ModelLoadError) as err:
        GANFamily.load(folder, ModelCard.read(folder), "cpu")
    message = str(err.value)
    assert str(folder / WEIGHTS_FILE) in message and "'synthesis.const'" in message
    assert "(3, 3, 3)" in message and "expects" in message
    del tensors["synthesis.const"]
    save_file(tensors, str(folder / WEIGHTS_FILE))
    with pytest.raises(ModelLoadError, match="'synthesis.const' is missing"):
        GANFamily.load(folder, ModelCard.read(folder), "cpu")


def test_corrupt_weights_or_discriminator_are_named(gan_folder: Path, tmp_path: Path) -> None:
    folder = _copy_folder(gan_folder, tmp_path / "corrupt")
    for name in (WEIGHTS_FILE, DISCRIMINATOR_FILE):
        good = (folder / name).read_bytes()
        (folder / name).write_bytes(good[: len(good) // 2])
        with pytest.raises(ModelLoadError, match=str(folder / name)):
            GANFamily.load(folder, ModelCard.read(folder), "cpu")
        (folder / name).write_bytes(good)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(ModelLoadError, match="missing"):
        GANFamily.load(folder, ModelCard.read(folder), "cpu")


def test_bad_card_config_is_named(gan_folder: Path, tmp_path: Path) -> None:
    folder = _copy_folder(gan_folder, tmp_path / "card")
    data = json.loads((folder / "card.json").read_text())
    data["config"]["directions"][0]["layers"] = [0, 9]
    (folder / "card.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="card.json: direction 'Direction 1'"):
        GANFamily.load(folder, ModelCard.read(folder), "cpu")
    data["config"]["g_widths"] = [8, 8, 8]  # a 16 × 16 network on an 8 × 8 card
    (folder / "card.json").write_text(json.dumps(data))
    with pytest.raises(ModelLoadError, match="card.json: bad GAN config"):
        GANFamily.load(folder, ModelCard.read(folder), "cpu")


# -- training -------------------------------------------------------------------------


def test_training_resumes_exactly_from_a_checkpoint(tmp_path: Path) -> None:
    data = tiny_data()
    config = TrainConfig(steps=4, batch_size=8, checkpoint_every=2)

    def fresh():
        torch.manual_seed(0)
        return GANFamily.make_trainable(tiny_recipe(), data)

    straight = fresh()
    train_loop(straight, data["train"], config)
    first = fresh()
    train_loop(first, data["train"], TrainConfig(steps=2, batch_size=8), checkpoint_dir=tmp_path)
    resumed = fresh()
    assert train_loop(resumed, data["train"], config, checkpoint_dir=tmp_path) == 4
    for a, b in zip(straight.G_ema.state_dict().values(), resumed.G_ema.state_dict().values()):
        torch.testing.assert_close(a, b)
    assert resumed.images_seen == 32 and resumed.steps_done == 4
    images = resumed.sample_images(10)
    assert images.shape == (10, SIZE, SIZE, 1) and images.dtype == np.uint8
