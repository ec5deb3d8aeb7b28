"""`studio train --data FOLDER ...`: train on a folder of your own images.

    studio train --data FOLDER|builtin:glyphs --family vae --size small --resolution 64 --steps N
                 [--grey] [--classes] [--flip] [--held-out 0.1] [--batch N] [--lr X]
                 [--seed N] [--vae ID] [--no-resume] [--threads N]

It writes the same recipe the Train view writes (studio.core.train_runs.make_recipe) to
the run's folder, studio_home()/training/<run id>/recipe.json, then trains it exactly as
`studio train --recipe` does. The run id is the folder's name plus a short hash of the
settings, so rerunning the same command resumes from the last checkpoint; --no-resume
starts afresh. The new model's id is the last line printed.

The flags are added to `studio train`'s one parser (studio.cli.cmd_train), so
`studio train --help` lists both forms; those below apply to --data only.
"""

from __future__ import annotations

import argparse

DEFAULT_STEPS = 2000  # --steps with --data when not given (with --recipe: the recipe's)
# the --data form's own flags and their defaults (None: the preset's)
DATA_DEFAULTS = {"family": "vae", "size": "small", "resolution": 32, "grey": False,
                 "classes": False, "flip": False, "held_out": 0.1, "batch": None, "lr": None,
                 "seed": 0, "vae": None, "sample_every": 100, "sample_count": 16,
                 "checkpoint_every": 200}


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The --data form's flags, as their own group of `studio train`'s help. Defaults are
    None here, so a flag given with --recipe is noticed (and refused)."""
    from studio.core.train_runs import SIZES, families

    d = DATA_DEFAULTS
    group = parser.add_argument_group(
        "training on your own images (with --data)",
        "The recipe the Train view writes, made from these settings and trained at once. The "
        "run's id is the folder's name plus a hash of the settings: the same command again "
        "resumes from its last checkpoint. The new model's id is the last line printed.")
    group.add_argument("--family", choices=families(), help=f"the model family (default: {d['family']})")
    group.add_argument("--size", choices=SIZES, help=f"a size preset (default: {d['size']})")
    group.add_argument("--resolution", type=int,
                       help=f"32, 64 or 128; PixelCNN 32 or 64 (default: {d['resolution']})")
    group.add_argument("--grey", action="store_true", default=None,
                       help="train on grey images (default: colour)")
    group.add_argument("--classes", action="store_true", default=None,
                       help="top-level subfolders are class labels")
    group.add_argument("--flip", action="store_true", default=None, help="add horizontal flips")
    group.add_argument("--held-out", type=float,
                       help=f"the fraction kept apart for the figures (default: {d['held_out']})")
    group.add_argument("--batch", type=int, help="batch size (default: the preset's)")
    group.add_argument("--lr", type=float, help="learning rate (default: the preset's)")
    group.add_argument("--seed", type=int, help=f"(default: {d['seed']})")
    group.add_argument("--vae", help="latent diffusion: the id of a VAE with the data's resolution "
                                     "and channels")
    group.add_argument("--sample-every", type=int,
                       help=f"steps between sample grids (default: {d['sample_every']})")
    group.add_argument("--sample-count", type=int,
                       help=f"images in each sample grid (default: {d['sample_count']})")
    group.add_argument("--checkpoint-every", type=int,
                       help=f"steps between checkpoints (default: {d['checkpoint_every']})")


def data_flags_given(args: argparse.Namespace) -> list[str]:
    """The --data form's flags given on the command line, as typed (--held-out, …)."""
    return ["--" + name.replace("_", "-") for name in DATA_DEFAULTS if getattr(args, name) is not None]


def cmd_train_data(args: argparse.Namespace) -> int:
    """Write the run's recipe from the parsed `studio train --data` flags and train it."""
    from studio.cli import UsageError, cmd_train
    from studio.core.train_data import BUILTIN_GLYPHS, FolderSettings
    from studio.core.train_runs import RunSettings, make_recipe, write_recipe

    given = {k: getattr(args, k) for k in DATA_DEFAULTS}
    opts = argparse.Namespace(**{k: DATA_DEFAULTS[k] if v is None else v for k, v in given.items()})
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    if steps < 1:
        raise UsageError("--steps must be at least 1")
    builtin = str(args.data) == BUILTIN_GLYPHS
    if not builtin and not args.data.is_dir():
        raise UsageError(f"{args.data}: not a folder")
    path = BUILTIN_GLYPHS if builtin else str(args.data.expanduser().resolve())
    data = FolderSettings(path, size=opts.resolution, channels=1 if opts.grey else 3,
                          classes=opts.classes, held_out_fraction=opts.held_out, flip=opts.flip,
                          seed=opts.seed)
    settings = RunSettings(data, family=opts.family, size=opts.size, steps=steps,
                           batch_size=opts.batch, lr=opts.lr, seed=opts.seed, vae=opts.vae,
                           sample_every=opts.sample_every, sample_count=opts.sample_count,
                           checkpoint_every=opts.checkpoint_every)
    try:
        recipe = make_recipe(settings)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    recipe_path = write_recipe(recipe)
    rest = ["--no-resume"] if args.no_resume else []
    if args.threads is not None:
        rest += ["--threads", str(args.threads)]
    return cmd_train(["--recipe", str(recipe_path), *rest])

