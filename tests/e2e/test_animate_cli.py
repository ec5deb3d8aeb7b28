"""`studio animate` in-process with the built-in models: frame counts, keyframe placement,
every export format, the recipe in the sidecar and in the MP4 comment, identical re-renders
from the sidecar, PyAV's independent decode (count, fps, size, PSNR), constant speed on a
GAN loop, and a cancelled export that leaves nothing behind."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from studio.cli import main
from studio.core import animation as anim
from studio.core import media, video
from studio.core.animate import Animation, export, render_op_for
from studio.core.family import Cancelled, JobContext
from studio.core.requests import Request

GAN, VAE, FLOW = "gan-glyphs", "vae-glyphs", "flow-glyphs"
SIZE = 32  # the built-in models' resolution


def animate(*args: str) -> int:
    return main(["animate", *args])


def listing(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_mp4_loop_decodes_to_the_asked_count_fps_size_and_quality(tmp_path, capsys):
    out = tmp_path / "walk.mp4"
    assert animate("--model", GAN, "--keyframes", "3,17,42", "--frames-per-keyframe", "4",
                   "--loop", "--fps", "12", "--scale", "4", "-o", str(out)) == 0
    assert "12 frames" in capsys.readouterr().out
    frames, fps, comment = video.read_video(out)  # FFmpeg's decoder, not our writer
    assert frames.shape == (3 * 4, 4 * SIZE, 4 * SIZE, 3) and fps == 12
    sidecar = tmp_path / "walk.mp4.recipe.json"
    recipe = json.loads(sidecar.read_text())
    assert json.loads(comment) == recipe  # the recipe in the MP4's metadata comment too
    assert recipe["op"] == "animate" and recipe["export"] == {"scale": "4x", "resample": "nearest"}
    assert recipe["animation"]["keyframe_frames"] == [0.0, 4.0, 8.0]
    # the exact rendered frames: the same recipe to a PNG folder
    exact = tmp_path / "frames"
    assert main(["generate", "--recipe", str(sidecar), "-o", str(exact)]) == 0
    rendered = video.read_frames(exact)
    assert rendered.shape == frames.shape
    worst = min(video.psnr(a, b) for a, b in zip(frames, rendered))
    assert worst >= 38.0, worst
    # re-rendering from the sidecar gives identical frames
    again = tmp_path / "again.mp4"
    assert main(["generate", "--recipe", str(sidecar), "-o", str(again)]) == 0
    assert np.array_equal(video.read_video(again)[0], frames)
    # the video itself names its recipe too (through the sidecar beside it)
    third = tmp_path / "third.webm"
    assert main(["generate", "--recipe", str(out), "-o", str(third)]) == 0
    assert len(video.read_video(third)[0]) == len(frames)


@pytest.mark.parametrize("name", ["walk.webm", "walk.gif", "walk.webp", "walk"])
def test_every_format_writes_every_frame_with_its_sidecar(name, tmp_path):
    out = tmp_path / name
    assert animate("--model", VAE, "--keyframes", "1,2", "--frames-per-keyframe", "5",
                   "--path", "lerp", "-o", str(out)) == 0
    frames = video.read_frames(out)
    assert len(frames) == 6 and frames.shape[1:3] == (SIZE, SIZE)
    assert listing(tmp_path) == sorted([name, f"{name}.recipe.json"])
    again = tmp_path / f"again{out.suffix}"
    assert main(["generate", "--recipe", str(tmp_path / f"{name}.recipe.json"),
                 "-o", str(again)]) == 0
    assert np.array_equal(video.read_frames(again), frames)  # the same frames again


def test_open_path_keyframes_land_on_their_frames_and_show_their_seeds(tmp_path):
    out = tmp_path / "frames"
    assert animate("--model", GAN, "--keyframes", "5,9,11", "--frames-per-keyframe", "3",
                   "--path", "spline", "--easing", "ease-in-out", "-o", str(out)) == 0
    frames = video.read_frames(out)
    assert len(frames) == (3 - 1) * 3 + 1
    for k, seed in enumerate([5, 9, 11]):
        alone = tmp_path / f"seed{seed}.png"
        assert main(["generate", "--model", GAN, "--seed", str(seed), "--count", "1",
                     "-o", str(alone)]) == 0
        # the keyframe renders its seed's w+ code in another batch: float32 sums, ≤ 2/255
        diff = np.abs(frames[k * 3].astype(int) - media.load_image(alone)[..., :3].astype(int))
        assert diff.max() <= 2


def test_holds_add_frames(tmp_path):
    out = tmp_path / "held.gif"
    assert animate("--model", VAE, "--keyframes", "1,2,3", "--frames-per-keyframe", "2",
                   "--hold", "0,3", "-o", str(out)) == 0
    recipe = json.loads((tmp_path / "held.gif.recipe.json").read_text())
    assert recipe["animation"]["frames"] == 5 + 3
    assert recipe["animation"]["keyframe_frames"] == [0.0, 2.0, 7.0]


def test_constant_speed_halves_the_unevenness_of_a_gan_loop(tmp_path, capsys):
    """The issue's measure: the coefficient of variation of per-frame mean |Δpixel| on a
    4-keyframe GAN loop, with constant speed measured in pixels and in the latent."""
    cv = {}
    for label, extra in [("timed", []), ("pixels", ["--constant-speed"]),
                         ("latent", ["--constant-speed", "--measure", "latent"])]:
        out = tmp_path / label
        assert animate("--model", GAN, "--keyframes", "3,17,42,7", "--frames-per-keyframe", "8",
                       "--loop", *extra, "-o", str(out)) == 0
        frames = video.read_frames(out)
        assert len(frames) == 32  # the count stays the same
        cv[label] = anim.coefficient_of_variation(anim.frame_steps(frames, loop=True))
    with capsys.disabled():
        print(f"\nCV of per-frame mean |Δpixel|: {cv}")
    assert cv["pixels"] <= 0.5 * cv["timed"]
    assert cv["latent"] <= 0.5 * cv["timed"]


def test_flow_animates_and_pixelcnn_says_it_has_no_latent(tmp_path, capsys):
    out = tmp_path / "flow.webp"
    assert animate("--model", FLOW, "--keyframes", "1,2", "--frames-per-keyframe", "3",
                   "--loop", "-o", str(out)) == 0
    assert len(video.read_frames(out)) == 6
    assert animate("--model", "pixelcnn-glyphs", "--keyframes", "1,2", "-o",
                   str(tmp_path / "no.mp4")) == 2
    assert "no latent to animate" in capsys.readouterr().err
    assert listing(tmp_path) == ["flow.webp", "flow.webp.recipe.json"]


@pytest.mark.parametrize("argv,message", [
    (["--keyframes", "3"], "2 keyframes"),
    (["--keyframes", "3,x"], "--keyframes"),
    (["--keyframes", "1,2", "--easing", "wobble"], "easing"),
    (["--keyframes", "1,2", "--scale", "3q"], "--scale"),
])
def test_bad_flags_exit_2_with_one_line(argv, message, tmp_path, capsys):
    assert animate("--model", VAE, *argv, "-o", str(tmp_path / "x.mp4")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert listing(tmp_path) == []


def test_animate_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        animate("--help")
    text = capsys.readouterr().out
    for flag in ("--model", "--keyframes", "--frames-per-keyframe", "--path", "--constant-speed",
                 "--loop", "--fps", "--scale", "--quality", "--easing", "--hold", "-o"):
        assert flag in text


@pytest.mark.parametrize("name", ["walk.mp4", "walk.webm", "walk.gif", "frames"])
def test_a_cancelled_export_leaves_no_partial_file(name, tmp_path):
    from studio.wiring import build_services

    services = build_services(synchronous=True)
    try:
        info = services.registry.get("vae")
        model = services.cache.get(VAE)
        cancel = threading.Event()
        keys = np.random.default_rng(0).standard_normal((3, *model.card.latent_shape))
        animation = Animation(VAE, keys.astype(np.float32), anim.PathSettings(frames_per_keyframe=8),
                              render_op=render_op_for(info).name, batch=2)
        written = []

        def on_progress(fraction: float, message: str) -> None:
            written.append(fraction)
            if len(written) >= 3:  # some frames are encoded: then the user cancels
                cancel.set()

        ctx = JobContext(cancel, on_progress=on_progress, min_interval=0.0)
        with pytest.raises(Cancelled):
            export(model, info, animation, tmp_path / name, ctx)
        assert written and listing(tmp_path) == []  # no video, no temp, no sidecar
    finally:
        services.close()


def test_an_animation_recipe_round_trips():
    keys = np.arange(12, dtype=np.float32).reshape(3, 4)
    settings = anim.PathSettings("spline", 6, True, True, ("ease-in",), (1, 0, 2))
    made = Animation("m", keys, settings, "sample", {"truncation": 0.5}, 30.0, 90, "latent", 4,
                     ("a", "b", "c"), positions=tuple(float(u) for u in np.linspace(0, 3, 21)))
    back = Animation.from_request(Request.from_json(made.to_request().to_json()))
    assert back.settings == settings and np.array_equal(back.keyframes, keys)
    assert (back.render_op, dict(back.render_params), back.fps, back.quality, back.measure,
            back.batch, back.labels, back.positions) == (
        "sample", {"truncation": 0.5}, 30.0, 90, "latent", 4, ("a", "b", "c"), made.positions)


def test_without_an_h264_encoder_mp4_is_refused_before_rendering(tmp_path, monkeypatch, capsys):
    """What the desktop bundle does when its FFmpeg carries no x264 (README, licences)."""
    import av

    monkeypatch.setattr(av, "codecs_available",
                        set(av.codecs_available) - {"libx264", "libopenh264"})
    assert animate("--model", VAE, "--keyframes", "1,2", "-o", str(tmp_path / "x.mp4")) == 2
    err = capsys.readouterr().err
    assert "no mp4 encoder" in err and ".webm" in err
    assert listing(tmp_path) == []
    assert animate("--model", VAE, "--keyframes", "1,2", "--frames-per-keyframe", "2",
                   "-o", str(tmp_path / "x.webm")) == 0


def test_latent_diffusion_animates_seeds_by_their_noise(tmp_path):
    """Diffusion keyframes are the seeds' initial noises, slerped and denoised with the
    sampler settings fixed; a keyframe is its seed's noise exactly."""
    out = tmp_path / "ld.gif"
    assert animate("--model", "latent-diffusion-glyphs", "--keyframes", "3,17",
                   "--frames-per-keyframe", "2", "-o", str(out)) == 0
    frames = video.read_frames(out)
    assert len(frames) == 3
    recipe = json.loads((tmp_path / "ld.gif.recipe.json").read_text())
    assert recipe["params"]["render_op"] == "interpolate"
    from studio.core.requests import decode_array

    keys = decode_array(recipe["inputs"]["keyframes"])
    from studio.families.diffusion import loop as dl

    expected = dl.initial_noise(dl.generators([3, 17]), keys.shape[1:]).numpy()
    assert np.array_equal(keys, expected)
    again = tmp_path / "again.gif"
    assert main(["generate", "--recipe", str(tmp_path / "ld.gif.recipe.json"), "-o", str(again)]) == 0
    assert np.array_equal(video.read_frames(again), frames)


def test_diffusion_keyframes_carry_classes_lerped_with_the_sampler_settings_fixed(tmp_path):
    """Class keyframes (--classes): each keyframe renders exactly as its seed and class do,
    the frames between lerp the class embedding; --set fixes the sampler settings, which the
    recipe keeps, and the re-render from the sidecar gives the same frames."""
    out = tmp_path / "classes"  # numbered PNGs: the exact pixels
    assert animate("--model", "diffusion-glyphs", "--keyframes", "3,17", "--classes", "1,7",
                   "--frames-per-keyframe", "2", "--set", "steps=3", "--set", "scheduler=ddim",
                   "--set", "guidance=2", "-o", str(out)) == 0
    frames = video.read_frames(out)
    assert len(frames) == 3
    recipe = json.loads((tmp_path / "classes.recipe.json").read_text())
    assert recipe["params"]["render_params"] == {"steps": 3, "scheduler": "ddim", "guidance": 2.0}
    assert recipe["params"]["labels"] == ["seed 3 · class 1", "seed 17 · class 7"]
    from studio.core.requests import decode_array

    conditions = decode_array(recipe["inputs"]["conditions"])
    assert np.array_equal(conditions.argmax(1), [1, 7]) and np.array_equal(conditions.sum(1), [1, 1])
    # each keyframe is its seed's sample with its class and the fixed settings
    for seed, cls, frame in ((3, 1, frames[0]), (17, 7, frames[2])):
        alone = tmp_path / f"seed{seed}.png"
        assert main(["generate", "--model", "diffusion-glyphs", "--seed", str(seed), "--count", "1",
                     "--class-index", str(cls), "--steps", "3", "--scheduler", "ddim",
                     "--guidance", "2", "-o", str(alone)]) == 0
        assert np.array_equal(media.load_image(alone)[..., :3], frame)
    # the middle frame: the slerped noise under the lerped class, not either class alone
    middle = tmp_path / "middle.png"
    for cls in (1, 7):
        assert main(["generate", "--model", "diffusion-glyphs", "--op", "interpolate",
                     "--seed", "3", "--seed-b", "17", "--frames", "3", "--class-index", str(cls),
                     "--steps", "3", "--scheduler", "ddim", "--guidance", "2",
                     "-o", str(middle)]) == 0
        grid = media.load_image(middle)[..., :3]  # three 32 px cells, 1 px gaps and border
        cells = [grid[1:33, 1 + 33 * i : 33 + 33 * i] for i in range(3)]
        assert np.array_equal(cells[0], frames[0]) == (cls == 1)
        assert np.array_equal(cells[2], frames[2]) == (cls == 7)
        assert not np.array_equal(cells[1], frames[1])
    again = tmp_path / "again"
    assert main(["generate", "--recipe", str(tmp_path / "classes.recipe.json"),
                 "-o", str(again)]) == 0
    assert np.array_equal(video.read_frames(again), frames)


@pytest.mark.parametrize(("argv", "message"), [
    (("--classes", "1"), "one class per keyframe"),
    (("--set", "frames=3"), "NAME one of: steps, scheduler"),
    (("--set", "steps=zero"), "steps"),
])
def test_bad_class_and_setting_flags_exit_2(argv, message, tmp_path, capsys):
    assert animate("--model", "diffusion-glyphs", "--keyframes", "3,17", *argv,
                   "-o", str(tmp_path / "x.gif")) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert listing(tmp_path) == []


@pytest.mark.parametrize("name", ["walk.mp4", "walk.webm", "frames"])
def test_check_re_renders_an_animation_and_compares_its_frames(name, tmp_path, capsys):
    """`studio generate --recipe X.recipe.json --check` on a video (or PNG folder): the frames
    re-rendered and encoded as the recipe says, decoded and compared; another animation in
    the file's place is `different` and exits 1."""
    out = tmp_path / name
    assert animate("--model", VAE, "--keyframes", "3,17", "--frames-per-keyframe", "3",
                   "--scale", "2", "-o", str(out)) == 0
    sidecar = tmp_path / f"{name}.recipe.json"
    capsys.readouterr()
    assert main(["generate", "--recipe", str(sidecar), "--check"]) == 0
    said = capsys.readouterr().out
    assert "check: same pixels" in said and "wrote" not in said
    assert listing(tmp_path) == sorted([name, sidecar.name])  # the temp render is gone
    other = tmp_path / "other" / name
    assert animate("--model", VAE, "--keyframes", "3,18", "--frames-per-keyframe", "3",
                   "--scale", "2", "-o", str(other)) == 0
    if out.is_dir():
        for frame in other.iterdir():
            frame.replace(out / frame.name)
    else:
        other.replace(out)
    capsys.readouterr()
    assert main(["generate", "--recipe", str(sidecar), "--check"]) == 1
    assert "check: different" in capsys.readouterr().out
