"""`studio train --data FOLDER ...`: train on a folder of your own images.

    studio train --data FOLDER|builtin:glyphs --family vae --size small --resolution 64 --steps N
                 [--grey] [--classes] [--flip] [--held-out 0.1] [--batch N] [--lr X]
                 [--seed N] [--vae ID] [--no-resume] [--threads N]

It writes the same recipe the Train view writes (studio.core.train_runs.make_recipe) to
the run's folder, studio_home()/training/<run id>/recipe.json, then trains it exactly as
`studio train --recipe` does. The run id is the folder's name plus a short hash of the
settings, so rerunning the same command resumes from the last checkpoint; --no-resume
starts afresh. The new model's id is the last line printed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def cmd_train_data(argv: Sequence[str]) -> int:
    from studio.cli import UsageError, _parse, cmd_train
    from studio.core.train_data import BUILTIN_GLYPHS, FolderSettings
    from studio.core.train_runs import SIZES, RunSettings, families, make_recipe, write_recipe

    parser = argparse.ArgumentParser(prog="studio train",
                                     description="Train a model on a folder of your own images.")
    parser.add_argument("--data", type=Path, required=True,
                        help="a folder of images (recursive), or builtin:glyphs (32 px grey digits)")
    parser.add_argument("--family", default="vae", choices=families())
    parser.add_argument("--size", default="small", choices=SIZES, help="a size preset")
    parser.add_argument("--resolution", type=int, default=32, help="32, 64 or 128 (PixelCNN: 32 or 64)")
    parser.add_argument("--grey", action="store_true", help="train on grey images (default: colour)")
    parser.add_argument("--classes", action="store_true", help="subfolders are class labels")
    parser.add_argument("--flip", action="store_true", help="add horizontal flips")
    parser.add_argument("--held-out", type=float, default=0.1, help="held-out fraction (default 0.1)")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, help="batch size (default: the preset's)")
    parser.add_argument("--lr", type=float, help="learning rate (default: the preset's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae", help="latent diffusion: the id of a VAE with the data's size and channels")
    parser.add_argument("--sample-every", type=int, default=100)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--no-resume", action="store_true", help="start afresh, ignoring checkpoints")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = _parse(parser, argv)
    if args.steps < 1:
        raise UsageError("--steps must be at least 1")
    builtin = str(args.data) == BUILTIN_GLYPHS
    if not builtin and not args.data.is_dir():
        raise UsageError(f"{args.data}: not a folder")
    path = BUILTIN_GLYPHS if builtin else str(args.data.expanduser().resolve())
    data = FolderSettings(path, size=args.resolution,
                          channels=1 if args.grey else 3, classes=args.classes,
                          held_out_fraction=args.held_out, flip=args.flip, seed=args.seed)
    settings = RunSettings(data, family=args.family, size=args.size, steps=args.steps,
                           batch_size=args.batch, lr=args.lr, seed=args.seed, vae=args.vae,
                           sample_every=args.sample_every, checkpoint_every=args.checkpoint_every)
    try:
        recipe = make_recipe(settings)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    path = write_recipe(recipe)
    rest = ["--no-resume"] if args.no_resume else []
    if args.threads is not None:
        rest += ["--threads", str(args.threads)]
    return cmd_train(["--recipe", str(path), *rest])
