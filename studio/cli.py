"""The `studio` command line. With no sub-command it opens the window.

    studio models [--json]
    studio generate --model ID [--op OP] [op parameters] -o FILE [--scale 4 | --scale 512px]
    studio generate --recipe IMAGE.png -o FILE   (at the scale the recipe's export recorded)
    studio generate --recipe IMAGE.png --check [--tolerance N]   (re-render, compare pixels)
    studio animate --model ID --keyframes 3,17,42 [--frames-per-keyframe 24]
                   [--path slerp|lerp|spline] [--constant-speed] [--loop] [--fps 24]
                   [--scale 4] -o walk.mp4   (see `studio animate --help`)
    studio batch --recipe walk.mp4.recipe.json -o walk.mp4 [--ray auto|local|ADDRESS]
                 [--workers N]   (long renders on Ray; also --model ID --seeds 0-9999 -o DIR,
                 and --eval --model ID --samples N; see `studio batch --help`)
    studio train --recipe FILE [--out DIR] [--steps N] [--threads N]
    studio train --data FOLDER --family vae --size small --resolution 64 --steps N
                 [--grey] [--classes] [--flip] [--no-resume]   (see `studio train --help`)
    studio eval --model ID
    studio compare [--json] [--no-timing] [--images N] [--model ID ...]
    studio import FOLDER | FILE.pkl   (a StyleGAN2/3 network pickle, read as data only)
    studio serve [--host 127.0.0.1] [--port 7860] [--token-file FILE]   (the engine over
                                  HTTP/WebSocket for other windows; see `studio serve --help`)
    studio [PATH ...]             (the window, opening the files: a recipe restores its
                                  model and settings, an image goes to the current model)
    studio --version
    studio --self-check          (the install's self-check: the window offscreen, every
                                  built-in model generates, exports and re-renders a PNG)

Op parameters come from the same specs that build the GUI panels. Bad input exits with
code 2 and a one-line reason.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from studio import APP_NAME, __version__

EXIT_BAD_INPUT = 2
# ops whose latents are written beside the image (FILE.npy), to feed a later --latent
LATENT_OPS = ("encode", "project")


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerant_output()
    if not argv or argv[0] in ("gui", "run"):
        from studio.app import main as gui_main

        return gui_main(argv[1:] if argv else [])
    if Path(argv[0]).is_file():  # `studio PATH`: an existing file wins over a command's name
        from studio.app import main as gui_main

        return gui_main(argv)
    if argv[0] in ("-V", "--version"):
        print(f"{APP_NAME} {__version__}")
        return 0
    if argv[0] == "--self-check":
        from studio.selfcheck import main as self_check

        return self_check(argv[1:])
    commands = {"models": cmd_models, "generate": cmd_generate, "train": cmd_train,
                "eval": cmd_eval, "import": cmd_import, "compare": cmd_compare,
                "animate": cmd_animate, "serve": cmd_serve, "batch": cmd_batch}
    if argv[0] in ("-h", "--help") or argv[0] not in commands:
        print(__doc__.strip())
        if argv[0] in ("-h", "--help"):
            return 0
        print(f"studio: error: unknown command {argv[0]!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from studio.core.logs import setup_logging, teardown_logging

    # Log records (a failed job's, a family's warnings) go to the log file: on stderr an
    # expected error is its one `studio: error:` line, nothing before it.
    try:
        log_path: Path | None = setup_logging()
    except OSError:  # no writable data folder: records fall back to stderr
        log_path = None
    try:
        return commands[argv[0]](argv[1:])
    except UsageError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: the traceback goes to the log, stderr says where
        if isinstance(exc, _expected_errors()):  # raised past a command's own handling
            print(f"studio: error: {_one_line(exc, typed=False)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        if not isinstance(exc, Bug):  # a Bug's traceback is logged already, where it happened
            logging.getLogger("studio.cli").exception("studio %s failed", argv[0])
        where = f"the traceback is in {log_path}" if log_path else "the traceback is above"
        print(f"studio: error: {_one_line(exc)} (a bug; {where})", file=sys.stderr)
        return 1
    finally:
        teardown_logging()


class Bug(Exception):
    """A job failed from a fault in the studio, not in the input; its traceback is in the log."""


def _one_line(exc: BaseException, typed: bool = True) -> str:
    text = str(exc).strip().splitlines()
    if isinstance(exc, Bug) or not typed:
        return text[0] if text else type(exc).__name__
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _expected_errors() -> tuple[type[Exception], ...]:
    """The studio's own errors about the user's input and files: their message names the
    file and the problem, wherever in a command they are raised (torch-free imports)."""
    from studio.core.cards import CardError
    from studio.core.diffusers_folder import NotAPipelineError
    from studio.core.directions import DirectionsError
    from studio.core.family import ModelLoadError
    from studio.core.library import LibraryError
    from studio.core.media import MediaError
    from studio.core.params import ParamError
    from studio.core.paths import PathEscapeError
    from studio.core.requests import RecipeError

    return (CardError, NotAPipelineError, DirectionsError, ModelLoadError, LibraryError,
            MediaError, ParamError, PathEscapeError, RecipeError)


def _tolerant_output() -> None:
    # A path with bytes the locale cannot decode (kept as surrogates) or a character a
    # strict locale cannot encode must not crash a print after the file is written.
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def _services(device: str | None = None, threads: int | None = None):
    from studio.wiring import build_services

    return build_services(synchronous=True, device=device, threads=threads)


def _check_recipe(path: Path, result: Any, tolerance: int) -> int:
    """Print how far the re-render is from the file's pixels; exit 1 when it is over the
    tolerance (a failed check, not bad input)."""
    from studio.core import media
    from studio.core.reproduce import check_result, describe_runtime, recorded_runtime

    try:
        report = check_result(path, result, tolerance)
    except (media.MediaError, OSError) as exc:
        raise UsageError(str(exc)) from None
    print(f"check: {report.line()}")
    print(f"  made on: {describe_runtime(recorded_runtime(path))}; "
          f"now on: {describe_runtime(dict(result.rendered_on))}")
    return 0 if report.ok else 1


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """argparse exits 2 on its own errors, which is the code we want."""
    return parser.parse_args(argv)


# -- models -----------------------------------------------------------------------------
def cmd_models(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="studio models", description="List the model library.")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = _parse(parser, argv)
    from studio.core.library import Library

    library = Library()
    rows = [{"id": e.id, "name": e.card.name, "family": e.family, "resolution": e.card.resolution,
             "channels": e.card.channels, "size_bytes": e.size_bytes, "builtin": e.builtin,
             "folder": str(e.folder), "metrics": e.card.metrics} for e in library.entries()]
    if args.json:
        print(json.dumps({"models": rows, "problems": library.problems}, indent=2))
        return 0
    if not rows:
        print("No models. Import one with `studio import FOLDER`.")
    for row in rows:
        kind = "built-in" if row["builtin"] else "user"
        print(f"{row['id']:<24} {row['family']:<8} {row['resolution']}px  "
              f"{row['size_bytes'] / 1e6:5.1f} MB  {kind:<8} {row['name']}")
    for problem in library.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


# -- generate ---------------------------------------------------------------------------
def _generate_parser(op_spec: Any | None, families: Sequence[Any]) -> argparse.ArgumentParser:
    epilog = ""
    if op_spec is None:
        lines = ["ops and their parameters, by family (pass --model to see one op's options):"]
        for info in families:
            for op in info.ops:
                names = ", ".join(f"--{p.name.replace('_', '-')}" for p in op.params)
                lines.append(f"  {info.name} {op.name}: {names}")
        epilog = "\n".join(lines)
    parser = argparse.ArgumentParser(
        prog="studio generate", description="Render images from a model or a recipe.",
        epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model id (see `studio models`)")
    parser.add_argument("--op", default="sample", help="the op to run (default: sample)")
    parser.add_argument("--recipe", type=Path,
                        help="re-render an exported PNG (or animation / recipe JSON)")
    parser.add_argument("-o", "--output", type=Path,
                        help="output file: .png (recipe embedded), .gif or .webp for frames")
    parser.add_argument("--check", action="store_true",
                        help="with --recipe: render again and report the largest pixel "
                             "difference from the image in the recipe's file (exit 1 when "
                             "it is over --tolerance); -o is then optional")
    parser.add_argument("--tolerance", type=int, default=0, metavar="N",
                        help="with --check: differences up to N/255 count as reproduced "
                             "(default 0: the same pixels)")
    parser.add_argument("--device", help="auto, cpu, cuda or mps")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch threads on the CPU (default: cores − 1). Exact pixels "
                             "hold for the same device, thread count and CPU kind")
    parser.add_argument("--fps", type=int, default=12, help="frames per second of an animation")
    parser.add_argument("--scale", metavar="S",
                        help="write each image enlarged: a whole factor (1, 2, 4, 8) or a pixel "
                             "size of the longer side (512px); nearest-neighbour for models of "
                             "64 px or less, Lanczos otherwise. Stored in the recipe's export "
                             "settings; with --recipe the recorded scale is the default")
    if op_spec is not None:
        group = parser.add_argument_group(f"parameters of {op_spec.name}")
        for spec in op_spec.params:
            flag = f"--{spec.name.replace('_', '-')}"
            if spec.is_array:
                what = "an image file" if spec.kind in ("image", "mask") else "a .npy latent"
                group.add_argument(flag, dest=spec.name, type=Path, help=f"{spec.help} ({what})")
                continue
            bits = [spec.help]
            if spec.choices:
                bits.append(f"one of {', '.join(spec.choices)}")
            elif spec.minimum is not None or spec.maximum is not None:
                bits.append(f"range {spec.minimum}..{spec.maximum}")
            bits.append(f"default {spec.default}")
            group.add_argument(flag, dest=spec.name, default=None, help="; ".join(bits),
                               metavar=spec.kind.upper())
    return parser


def cmd_generate(argv: Sequence[str]) -> int:
    from studio.wiring import family_registry

    registry = family_registry()  # the built-in families and the plug-ins'
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--model")
    pre.add_argument("--op", default="sample")
    pre.add_argument("--recipe", type=Path)
    known, _ = pre.parse_known_args(argv)

    services = None
    op_spec = None
    if known.model:
        from studio.core.library import Library, LibraryError

        try:
            entry = Library().get(known.model)
            op_spec = registry.get(entry.family).op(known.op)
        except (LibraryError, KeyError) as exc:
            raise UsageError(str(exc).strip("'\"")) from None
    args = _parse(_generate_parser(op_spec, list(registry)), argv)
    if not args.recipe and not args.model:
        raise UsageError("give --model ID (and optionally --op), or --recipe FILE")
    if args.check and not args.recipe:
        raise UsageError("--check re-renders a recipe: give --recipe FILE")
    if args.output is None and not args.check:
        raise UsageError("give -o FILE (the output image)")
    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads must be 1 or more, not {args.threads}")
    if not 0 <= args.tolerance <= 255:
        raise UsageError(f"--tolerance is in 1/255 steps, 0 to 255, not {args.tolerance}")

    request = _request_from_args(args, op_spec)
    scale, resample = _export_scale(args)
    if request.op == "animate":  # an animation's recipe: the animator renders it
        from studio.cli_animate import render_recipe

        return render_recipe(request, args, scale, resample)
    services = _services(args.device, args.threads)
    try:
        from studio.core.engine import JobState

        try:
            job = services.engine.submit(request, label="cli")
        except ValueError as exc:  # ParamError, or LibraryError: a model not in the library
            raise UsageError(str(exc)) from None
        except KeyError as exc:
            raise UsageError(str(exc).strip("'\"")) from None
        if job.state is JobState.FAILED:
            raise (Bug if job.unexpected else UsageError)(job.error)
        assert job.result is not None
        status = 0
        if args.output is not None:
            status = _write_output(args.output, job.result, services, args.fps, scale, resample)
        if args.check:
            status = status or _check_recipe(args.recipe, job.result, args.tolerance)
        return status
    finally:
        services.close()


def _request_from_args(args: argparse.Namespace, op_spec: Any | None):
    from studio.core import media
    from studio.core.export import open_recipe
    from studio.core.requests import RecipeError, Request

    if args.recipe:
        try:
            request = open_recipe(args.recipe)
        except (RecipeError, media.MediaError) as exc:
            raise UsageError(str(exc)) from None
        return request
    assert op_spec is not None
    params: dict[str, Any] = {}
    inputs: dict[str, np.ndarray] = {}
    for spec in op_spec.params:
        value = getattr(args, spec.name, None)
        if value is None:
            continue
        if spec.kind in ("image", "mask"):
            try:
                inputs[spec.name] = media.load_image(value)
            except media.MediaError as exc:
                raise UsageError(str(exc)) from None
        elif spec.kind == "latent":
            inputs[spec.name] = _load_latent(value)
        else:
            params[spec.name] = value
    return Request(args.model, args.op, params, inputs, device=args.device)


def _load_latent(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a readable .npy latent ({exc})") from None
    if array.dtype.kind != "f":
        raise UsageError(f"{path}: a latent must hold floats, not {array.dtype}")
    return array.astype(np.float32)


def _export_scale(args: argparse.Namespace) -> tuple[Any, str | None]:
    """--scale, else the scale (and resampling) a recipe's export recorded: a recipe
    re-rendered without --scale writes the same pixels as the file it came from."""
    from studio.core import export
    from studio.core.export_scale import ExportScale, ScaleError

    if args.scale is not None:
        try:
            return ExportScale.parse(args.scale), None
        except ScaleError as exc:
            raise UsageError(f"--scale: {exc}") from None
    if args.recipe:
        return export.recipe_scale(args.recipe)
    return None, None


def _write_output(path: Path, result: Any, services: Any, fps: int, scale: Any = None,
                  resample: str | None = None) -> int:
    family = services.library.get(result.request.model_id).family
    write_result(path, result, family, fps, scale, resample)
    print(f"wrote {path} ({result.count} image{'s' if result.count != 1 else ''}, "
          f"{result.timings.get('run', 0.0) * 1000:.0f} ms)")
    readouts = _readouts(result.extras)
    if readouts:
        print(readouts)
    return 0


def write_result(path: Path, result: Any, family: str, fps: int = 12, scale: Any = None,
                 resample: str | None = None) -> None:
    """The files `studio generate -o FILE` writes for a result (`studio batch`'s seed
    sweep writes its PNGs through here too, so they are the same files)."""
    from studio.core import atomic, export, media

    suffix = path.suffix.lower()
    if suffix not in (".gif", ".webp", ".png"):
        raise UsageError(f"{path}: unsupported output type {suffix or '(none)'}; use .png, .gif or .webp")
    try:
        with atomic.together():  # the image and its latent land together, or neither does
            if suffix in (".gif", ".webp"):
                export.export_animation(path, result, fps=fps, scale=scale, resample=resample)
            else:
                export.export_png(path, result, family=family, scale=scale, resample=resample)
            if result.latents is not None and result.request.op in LATENT_OPS:
                with atomic.atomic_path(path.with_suffix(".npy")) as temp, open(temp, "wb") as fh:
                    np.save(fh, result.latents)  # a file object: np.save would add .npy to a name
    except media.MediaError as exc:
        raise UsageError(f"{path}: cannot write ({exc})") from None
    except OSError as exc:  # name the file that failed: the latent may be the one
        raise UsageError(f"{exc.filename or path}: cannot write ({exc.strerror or exc})") from None


def _readouts(extras: Mapping[str, Any]) -> str:
    """The op's scalar read-outs (bits/dim, most likely class, round-trip error ...), one
    line; arrays and lists (maps, posteriors) stay in the image."""
    parts = []
    for key, value in extras.items():
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, float):
            parts.append(f"{key}: {value:.4g}")
        elif isinstance(value, (int, str)):
            parts.append(f"{key}: {value}")
    return " · ".join(parts)


def cmd_animate(argv: Sequence[str]) -> int:
    from studio.cli_animate import cmd_animate as animate

    return animate(argv)


def cmd_serve(argv: Sequence[str]) -> int:
    from studio.cli_serve import cmd_serve as serve

    return serve(argv, UsageError)


def cmd_batch(argv: Sequence[str]) -> int:
    from studio.batch.cli import cmd_batch as batch  # Ray only once the arguments are read

    return batch(argv)


# -- train / eval / import --------------------------------------------------------------
def cmd_train(argv: Sequence[str]) -> int:
    # one parser for both forms, so `studio train --help` lists every flag
    from studio.cli_train import add_data_arguments, cmd_train_data, data_flags_given

    parser = argparse.ArgumentParser(
        prog="studio train",
        description="Train a model from a recipe, or on a folder of your own images (--data).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipe", type=Path, help="a recipe JSON (resources/recipes/, or the one "
                                                    "the Train view wrote)")
    source.add_argument("--data", type=Path, metavar="FOLDER",
                        help="a folder of images (recursive), or builtin:glyphs (32 px grey digits)")
    parser.add_argument("--out", type=Path, help="--recipe: output model folder (default: the user library)")
    parser.add_argument("--steps", type=int,
                        help="the step count (default: the recipe's; with --data 2000)")
    parser.add_argument("--no-resume", action="store_true", help="start afresh, ignoring checkpoints")
    parser.add_argument("--threads", type=int,
                        help="torch threads (1 lets two trainings share two cores; default: torch's)")
    add_data_arguments(parser)
    args = _parse(parser, argv)
    if args.threads is not None and args.threads < 1:
        raise UsageError("--threads must be at least 1")
    if args.data is not None:
        if args.out is not None:
            raise UsageError("--out goes with --recipe; a --data run lands in the library")
        return cmd_train_data(args)
    stray = data_flags_given(args)
    if stray:
        raise UsageError(f"{', '.join(stray)}: only with --data (a recipe holds its own settings)")
    if not args.recipe.is_file():
        raise UsageError(f"{args.recipe}: no such recipe file")
    try:
        recipe = json.loads(args.recipe.read_text(encoding="utf-8"))
        model_id = recipe["id"] if "id" in recipe else recipe["model_id"]
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"{args.recipe}: not a valid recipe ({exc})") from None

    from tqdm import tqdm

    from studio.core.family import Cancelled, JobContext
    from studio.core.library import Library
    from studio.core.paths import PathEscapeError, confined, studio_home
    from studio.core.training import train_from_recipe
    from studio.wiring import family_registry

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:  # the id names a folder: it must not lead out of the models folder
        out = args.out or confined(studio_home() / "models", model_id, "id", args.recipe,
                                   single=True)
    except PathEscapeError as exc:
        raise UsageError(str(exc)) from None
    bars: list[Any] = []  # made at the first step: a refusal before it prints its line alone

    def on_progress(fraction: float, message: str) -> None:
        if not bars:
            bars.append(tqdm(total=100, desc=f"training {model_id}", dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining} "
                                        "{postfix}"))
        bar = bars[0]
        bar.n = round(fraction * 100, 1)
        bar.set_postfix_str(message, refresh=False)
        bar.refresh()

    def close_bar() -> None:
        for bar in bars:
            bar.close()

    ctx = JobContext(on_progress=on_progress, min_interval=0.2)
    try:
        folder = train_from_recipe(args.recipe, family_registry(), out, ctx=ctx,
                                   resume=not args.no_resume, max_steps=args.steps)
    except Cancelled:
        close_bar()
        print("training cancelled; a checkpoint was kept", file=sys.stderr)
        return 1
    except (ValueError, KeyError, FileNotFoundError) as exc:
        close_bar()
        raise UsageError(f"{args.recipe}: {exc}") from None
    close_bar()
    if args.out is None:
        Library().import_folder(folder)
    print(f"trained {model_id} → {folder}")
    print(model_id)  # the last line: the new model's id, for scripts
    return 0


def cmd_eval(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="studio eval", description="Evaluate a model's samples.")
    parser.add_argument("--model", required=True, help="model id")
    parser.add_argument("--samples", type=int, default=256, help="samples to draw")
    parser.add_argument("--device", help="auto, cpu, cuda or mps")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = _parse(parser, argv)
    services = _services(args.device)
    try:
        from studio.core.datasets import build_dataset
        from studio.core.evaluator import Evaluator, dataset_ceiling, evaluate_model
        from studio.core.library import LibraryError

        try:
            entry = services.library.get(args.model)
        except LibraryError as exc:
            raise UsageError(str(exc)) from None
        model = services.cache.get(args.model)
        card = entry.card
        data = build_dataset({"name": card.dataset or "glyphs", **card.training.get("dataset", {})})
        evaluator = Evaluator.load()
        figures = evaluate_model(model, services.registry.get(entry.family), samples=args.samples,
                                 data=data, evaluator=evaluator)
        # the same figure for the training images: the best a model can score
        figures["dataset_ceiling"] = round(dataset_ceiling(data["train"], evaluator, args.samples), 5)
    finally:
        services.close()
    if args.json:
        print(json.dumps({"model": args.model, "figures": figures, "card": entry.card.metrics}, indent=2))
        return 0
    print(f"{args.model} ({entry.family}), {args.samples} samples")
    for key, value in figures.items():
        card = entry.card.metrics.get(key)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {key:<28} {shown:>10}" + (f"   (card: {card:.4f})" if isinstance(card, float) else ""))
    return 0


def cmd_compare(argv: Sequence[str]) -> int:
    from studio.core import compare

    parser = argparse.ArgumentParser(
        prog="studio compare",
        description="The built-in models of every family trained on the shared dataset, side "
                    "by side: the evaluator's figures (from the model cards) and the time per "
                    "image, measured now with one sample batch per model.")
    parser.add_argument("--dataset", default=compare.SHARED_DATASET,
                        help=f"the shared dataset (default: {compare.SHARED_DATASET})")
    parser.add_argument("--model", action="append", dest="models", metavar="ID",
                        help="only this model (repeat for several; default: all)")
    parser.add_argument("--images", type=int, default=compare.DEFAULT_IMAGES,
                        help=f"images in each timed batch (default: {compare.DEFAULT_IMAGES})")
    parser.add_argument("--no-timing", action="store_true",
                        help="the card figures only: load and run no model")
    parser.add_argument("--grids", type=Path, metavar="DIR",
                        help="also write each model's sample grid to DIR/ID.png (with its recipe)")
    parser.add_argument("--device", help="auto, cpu, cuda or mps")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = _parse(parser, argv)
    if not 1 <= args.images <= 64:
        raise UsageError("--images must be between 1 and 64")
    if args.no_timing and args.grids:
        raise UsageError("--grids needs the timed sample runs; drop --no-timing")
    from studio.core.library import Library
    from studio.wiring import family_registry

    registry = family_registry()
    library = Library()
    try:
        rows = compare.build_rows(library, registry, args.dataset, args.models)
    except KeyError as exc:
        raise UsageError(str(exc).strip("'\"")) from None
    if not args.no_timing and rows:
        _time_rows(rows, args)
    if args.json:
        print(json.dumps(compare.to_json_dict(rows, args.dataset,
                                              None if args.no_timing else args.images), indent=2))
    else:
        print(compare.format_table(rows, args.dataset, timed=not args.no_timing,
                                   images=args.images))
    for problem in library.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 1 if any(row.error for row in rows) else 0


def _time_rows(rows: Sequence[Any], args: argparse.Namespace) -> None:
    """Run each model's sample batch through the engine, as the GUI does."""
    from studio.core import compare, export
    from studio.core.engine import JobState

    services = _services(args.device)
    try:
        for row in rows:
            if row.error:
                continue
            print(f"timing {row.model_id} ({args.images} images)…", file=sys.stderr, flush=True)
            request = compare.sample_request(row.model_id, args.images, device=args.device)
            try:
                job = services.engine.submit(request, label=f"compare · {row.model_id}")
            except (ValueError, KeyError) as exc:  # ParamError is a ValueError
                compare.record_error(row, str(exc).strip("'\""))
                continue
            if job.state is not JobState.DONE or job.result is None:
                compare.record_error(row, job.error or job.state.value)
                continue
            compare.record_timing(row, job.result)
            if args.grids:
                path = args.grids / f"{row.model_id}.png"
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    export.export_png(path, job.result, family=row.family)
                except (OSError, ValueError) as exc:  # MediaError is a ValueError
                    raise UsageError(f"{path}: cannot write ({exc})") from None
    finally:
        services.close()


def cmd_import(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="studio import", description="Add a model folder to the library, or convert a model "
        "file (a StyleGAN2/StyleGAN3 network .pkl, read without running its code) into one.")
    parser.add_argument("folder", type=Path, help="a model folder, or a model file to convert")
    args = _parse(parser, argv)
    from studio.core.library import Library, LibraryError

    library = Library()
    folder = args.folder
    if folder.is_file():
        folder = _convert_model_file(folder, library)
    try:
        entry = library.import_folder(folder)
    except LibraryError as exc:
        raise UsageError(str(exc)) from None
    print(entry.id)
    return 0


def _convert_model_file(path: Path, library: Any) -> Path:
    """A model file from elsewhere → a new studio model folder in the user data folder."""
    from studio.core.paths import studio_home
    from studio.families import file_importer
    from studio.families.catalog import FILE_IMPORTERS

    importer = file_importer(path)
    if importer is None:
        raise UsageError(f"{path}: a file, not a model folder (files the studio converts: "
                         f"{', '.join(sorted(FILE_IMPORTERS))})")
    last = [""]

    def progress(fraction: float, message: str) -> None:
        if message != last[0]:
            last[0] = message
            print(f"{message} ({fraction:.0%})", file=sys.stderr)

    try:
        return importer(path, studio_home() / "models", taken=lambda i: i in library, progress=progress)
    except (ValueError, OSError) as exc:  # the importers' errors name the file
        raise UsageError(str(exc)) from None


if __name__ == "__main__":
    raise SystemExit(main())
