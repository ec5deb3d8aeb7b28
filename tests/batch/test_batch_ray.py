"""`studio batch` on a local Ray started here (2 CPUs, shared by the module's tests):
frames equal to a local render, in order; a worker killed mid-run and its chunks run
again on another; a seed sweep equal to `studio generate`; an evaluation equal to
`studio eval`; the CLI called in-process. The built-in 32 px GAN is the model."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import ray

from studio.batch import jobs
from studio.batch.cluster import WorkerSpec, start_pool
from studio.batch.pool import WorkerPool
from studio.cli import main
from studio.core import engine, video
from studio.core.animate import Animation
from studio.core.export import open_recipe

GAN = "gan-glyphs"


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture
def walk(tmp_path):
    """A 40-frame GAN loop's recipe (5 batches of 8) at constant speed in pixels with its
    frames not yet placed (a worker renders the path densely to place them), and its
    frames rendered locally, at one torch thread as each worker renders."""
    out = tmp_path / "walk.gif"
    assert main(["animate", "--model", GAN, "--keyframes", "3,17", "--frames-per-keyframe",
                 "20", "--loop", "--threads", "1", "-o", str(out)]) == 0
    recipe = json.loads((tmp_path / "walk.gif.recipe.json").read_text())
    recipe["params"].update(constant_speed=True, measure="pixels", positions=None)
    sidecar = tmp_path / "walk.recipe.json"
    sidecar.write_text(json.dumps(recipe))
    local = tmp_path / "local"
    assert main(["generate", "--recipe", str(sidecar), "--threads", "1", "-o", str(local)]) == 0
    return sidecar, video.read_frames(local)


def test_the_cli_renders_an_animation_recipe_equal_to_the_local_render(local_ray, walk,
                                                                        tmp_path, capsys):
    sidecar, local = walk
    out = tmp_path / "ray"
    assert main(["batch", "--recipe", str(sidecar), "-o", str(out), "--workers", "2",
                 "--chunk", "1"]) == 0  # a chunk per batch: both workers take several
    assert "40 frames" in capsys.readouterr().out
    frames = video.read_frames(out)  # numbered PNGs: the exact pixels
    assert frames.shape == local.shape == (40, 32, 32, 3)
    assert np.array_equal(frames, local)  # bit for bit, every frame in its place
    # the same recipe beside them as the local render's (the frames placed alike)
    assert (json.loads((tmp_path / "ray.recipe.json").read_text())
            == json.loads((tmp_path / "local.recipe.json").read_text()))


def test_a_killed_worker_has_its_chunks_run_on_another(local_ray, walk):
    sidecar, local = walk
    pool = start_pool(WorkerSpec(GAN), 2)
    try:
        pool.ready()
        animation = jobs.planned(pool, Animation.from_request(open_recipe(sidecar)))
        chunks, killed = [], []
        for chunk in jobs.render_frames(pool, animation, batches_per_chunk=1):
            if not killed:  # mid-run: a worker that holds chunks now dies
                busy = pool.busy_actors()
                assert busy, "the other chunks were all back before the kill"
                ray.kill(busy[0])
                killed.append(busy[0])
            chunks.append(chunk)
        assert pool.stats.retried and pool.stats.replaced == 1
        assert killed[0] not in pool.actors
        frames = np.stack([video.to_rgb(f) for f in np.concatenate(chunks)])  # as read back
        assert np.array_equal(frames, local)  # all there, in order, unchanged
    finally:
        pool.close()


@ray.remote(num_cpus=0)
class Echo:
    def late(self, index: int, delay: float) -> int:
        time.sleep(delay)
        return index


def test_results_come_back_in_order_when_they_arrive_out_of_order(local_ray):
    pool = WorkerPool(Echo.remote, 3, depth=2)
    try:
        delays = [0.6, 0.0, 0.3, 0.0, 0.1, 0.0, 0.2, 0.0]  # the first is in last
        arrived = list(pool.map_ordered(lambda actor, i: actor.late.remote(i, delays[i]),
                                        range(len(delays))))
        assert arrived == list(range(len(delays)))
    finally:
        pool.close()


def test_a_seed_sweep_writes_the_files_studio_generate_writes(local_ray, tmp_path, capsys):
    folder = tmp_path / "sweep"
    assert main(["batch", "--model", GAN, "--seeds", "3-5,40", "-o", str(folder),
                 "--workers", "2"]) == 0
    assert "wrote 4 PNGs" in capsys.readouterr().out
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(f"{GAN}-sample-seed{s}.png" for s in (3, 4, 5, 40))
    for seed in (3, 4, 5, 40):
        single = tmp_path / f"single-{seed}.png"
        assert main(["generate", "--model", GAN, "--seed", str(seed), "--count", "1",
                     "--threads", "1", "-o", str(single)]) == 0
        # the same bytes: pixels, recipe (rendered_on included) and A1111 text alike
        assert (folder / f"{GAN}-sample-seed{seed}.png").read_bytes() == single.read_bytes()


def test_an_evaluation_gives_studio_eval_figures(local_ray, monkeypatch, capsys):
    monkeypatch.setattr(engine, "default_thread_count", lambda: 1)  # as each worker runs
    assert main(["eval", "--model", GAN, "--samples", "150", "--json"]) == 0
    local = json.loads(capsys.readouterr().out)
    # 150 samples are three sample calls (64 + 64 + 22): one a chunk, over both workers
    assert main(["batch", "--eval", "--model", GAN, "--samples", "150", "--workers", "2",
                 "--chunk", "1", "--json"]) == 0
    distributed = json.loads(capsys.readouterr().out)
    assert distributed == local and distributed["figures"]["samples"] == 150.0


def test_a_chunk_that_fails_in_the_studio_stops_the_job_with_its_reason(local_ray, walk,
                                                                          tmp_path, capsys):
    sidecar, _local = walk
    recipe = json.loads(sidecar.read_text())
    recipe["params"]["render_params"] = {"truncation": 99.0}  # out of the op's range
    bad = tmp_path / "bad.recipe.json"
    bad.write_text(json.dumps(recipe))
    out = tmp_path / "bad.mp4"
    assert main(["batch", "--recipe", str(bad), "-o", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert "truncation" in err and len(err.strip().splitlines()) == 1  # the spec's reason
    assert not out.exists() and not (tmp_path / "bad.mp4.recipe.json").exists()


def test_more_workers_than_the_cluster_holds_are_named(local_ray):
    from studio.batch.cluster import shortfall

    assert shortfall(WorkerSpec(GAN), 2) == ""
    assert shortfall(WorkerSpec(GAN, threads=2), 2) == ("2 workers need 4 CPUs, the cluster "
                                                        "has 2")
    assert "GPUs, the cluster has 0" in shortfall(WorkerSpec(GAN, device="cuda"), 1)
