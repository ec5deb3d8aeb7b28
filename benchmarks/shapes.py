"""A folder of coloured shapes, made offline: the data of the training benchmarks and of
the README's "Train your own" demonstration.

    python -m benchmarks.shapes OUT_FOLDER [--count 1000] [--size 64] [--seed 0]

Each image is one filled shape (circle, square, triangle or ring) of a random colour,
size and place on a random plain background, drawn 4× larger and downscaled (clean
edges). Seeded: the same arguments give the same files. Subfolders name the shape, so
the folder also serves `--classes`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "ring")


def draw_shape(rng: np.random.Generator, kind: str, size: int) -> Image.Image:
    big = size * 4
    background = tuple(int(v) for v in rng.integers(0, 90, 3))
    colour = tuple(int(v) for v in rng.integers(120, 256, 3))
    image = Image.new("RGB", (big, big), background)
    draw = ImageDraw.Draw(image)
    r = float(rng.uniform(0.18, 0.38)) * big
    cx, cy = (float(v) for v in rng.uniform(r, big - r, 2))
    if kind == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "square":
        draw.rectangle((cx - r, cy - r, cx + r, cy + r), fill=colour)
    elif kind == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    else:
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=colour, width=max(2, int(r / 3)))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def make_shapes(folder: str | Path, count: int = 1000, size: int = 64, seed: int = 0) -> Path:
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    for i in range(count):
        kind = SHAPES[i % len(SHAPES)]
        (folder / kind).mkdir(parents=True, exist_ok=True)
        draw_shape(rng, kind, size).save(folder / kind / f"{i:05d}.png")
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.shapes")
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(make_shapes(args.out, args.count, args.size, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
