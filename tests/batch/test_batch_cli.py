"""`studio batch` without starting Ray: its refusals, the install hint when Ray is missing,
and how it cuts work into chunks (whole local batches) and reads seed lists."""

from __future__ import annotations

import sys

import pytest

from studio.batch.jobs import frame_chunks, parse_seeds
from studio.cli import main


def test_without_ray_it_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as if not installed
    assert main(["batch", "--model", "gan-glyphs", "--seeds", "0-3", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "optional extra" in err and "pip install 'latent-studio[distributed]'" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, words", [
    ([], "give one of --recipe"),
    (["--recipe", "a.json", "--seeds", "1", "--model", "m", "-o", "x"], "not --recipe and --seeds"),
    (["--seeds", "1-3", "-o", "x"], "--seeds needs --model"),
    (["--eval"], "--eval needs --model"),
    (["--model", "gan-glyphs", "--seeds", "1"], "give -o"),
    (["--model", "gan-glyphs", "--seeds", "1", "-o", "x", "--workers", "0"], "--workers must"),
    (["--model", "nope", "--seeds", "1", "-o", "x"], "nope"),
    (["--model", "gan-glyphs", "--seeds", "9-2", "-o", "x"], "runs backwards"),
])
def test_bad_input_is_refused_in_one_line(argv, words, capsys):
    assert main(["batch", *argv]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_seed_lists_and_ranges():
    assert parse_seeds("0-3,10, 7") == [0, 1, 2, 3, 10, 7]
    assert len(parse_seeds("0-9999")) == 10_000
    for bad in ("", "a-3", "-4", "3-1"):
        with pytest.raises(ValueError):
            parse_seeds(bad)


def test_chunks_are_whole_batches_counted_from_the_first_frame():
    chunks = frame_chunks(45, 8, workers=2, batches_per_chunk=2)
    assert chunks == [(0, 16), (16, 32), (32, 45)]  # the last holds the local last batch
    # default: enough chunks for every worker, never more than 8 batches in one
    assert all(start % 8 == 0 for start, _ in frame_chunks(2000, 8, workers=2))
    assert max(b - a for a, b in frame_chunks(10_000, 8, workers=2)) == 64
    assert len(frame_chunks(40, 8, workers=2)) == 5
