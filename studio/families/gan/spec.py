"""The GAN family's ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.specs import COUNT, IMAGE, SEED

# -- GAN ---------------------------------------------------------------------------------
# Latents of the GAN are w+ codes, shape (layers, w_dim): one style vector per synthesis
# layer, so that style mixing and per-layer direction edits are representable exactly.
TRUNCATION = ParamSpec("truncation", "float", default=0.7, minimum=0.0, maximum=1.5, step=0.05,
                       label="Truncation ψ", live=True,
                       help="Pulls each style towards the mean w: 0 gives the average image, "
                            "1 the full variety, above 1 exaggerates.")
CLASS_INDEX = ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=255, label="Class",
                        help="For a class-conditional model: the class to draw (−1 = a random "
                             "class per seed). Ignored by unconditional models.")
EDITS = ParamSpec("edits", "text", default="", label="Direction edits", group="Directions",
                  live=True,
                  help='Moves along the model\'s latent directions, as JSON: '
                       '[{"direction": 0, "amount": 2.0, "layers": [0, 4]}] '
                       '(amount in σ of w along that direction; layers: the first and last '
                       'synthesis layer it edits, default all). The explorer\'s sliders write it.')
W_LATENT = ParamSpec("latent", "latent", label="Start latent",
                     help="w+ codes (from any GAN op's result) to render instead of the seeds, "
                          "as they are (truncation applies to seeds only); edits still apply.")
SPACE = ParamSpec("space", "choice", default="w", choices=("w", "z"), label="Path space",
                  help="w: straight lines between styles (smooth). z: slerp between the "
                       "Gaussian inputs, then mapped (follows the prior).")

GAN = FamilyInfo(
    name="gan",
    label="GAN",
    description="Style-based generative adversarial network: sharp samples, truncation, "
                "latent directions, walks and style mixing.",
    loader="studio.families.gan.model:GANFamily",
    strengths=("one forward pass", "sharp samples", "latent directions and style mixing"),
    weaknesses=("no encoder (projection is an optimisation)", "no likelihood",
                "can drop modes"),
    explorer="gan",
    ops=(
        OpSpec("sample", (SEED, COUNT, TRUNCATION, CLASS_INDEX, EDITS, W_LATENT), label="Sample",
               help="One image per seed (seed, seed+1, ...) with truncation, or the given w+ "
                    "latents as they are; then the direction edits. The result's latents are "
                    "the codes rendered, so any of them renders back to its image."),
        OpSpec(
            "interpolate",
            (
                ParamSpec("latent_a", "latent", label="Start latent", help="w+ code of the start."),
                ParamSpec("latent_b", "latent", label="End latent", help="w+ code of the end."),
                ParamSpec("seed", "seed", default=0, label="Start seed",
                          help="The start, when no start latent is given."),
                ParamSpec("seed_b", "seed", default=1, label="End seed",
                          help="The end, when no end latent is given."),
                ParamSpec("frames", "int", default=9, minimum=2, maximum=64, label="Frames",
                          help="Images along the path, ends included."),
                SPACE, TRUNCATION, CLASS_INDEX,
            ),
            label="Interpolate", animated=True,
            help="A path between two seeds or two w+ latents.",
        ),
        OpSpec(
            "walk",
            (
                SEED,
                ParamSpec("points", "int", default=4, minimum=2, maximum=16, label="Key points",
                          help="Random points the walk visits (seed, seed+1, ...)."),
                ParamSpec("frames_per_point", "int", default=12, minimum=2, maximum=60,
                          label="Frames per leg", help="Frames between two key points."),
                ParamSpec("loop", "bool", default=True, label="Loop",
                          help="Return to the first point, so the animation loops seamlessly."),
                SPACE, TRUNCATION, CLASS_INDEX,
            ),
            label="Walk", animated=True,
            help="A smooth latent walk through several random points, as animation frames.",
        ),
        OpSpec(
            "mix",
            (
                ParamSpec("row_seeds", "text", default="1,2,3,4", label="Row seeds",
                          help="Comma-separated seeds whose coarse styles each row keeps."),
                ParamSpec("column_seeds", "text", default="5,6,7,8", label="Column seeds",
                          help="Comma-separated seeds whose styles each column takes."),
                ParamSpec("layers", "choice", default="fine", choices=("coarse", "middle", "fine"),
                          label="Styles taken", help="Which layer range comes from the column seed: "
                          "coarse (pose, shape), middle (features) or fine (stroke, texture)."),
                TRUNCATION, CLASS_INDEX,
            ),
            label="Style mix",
            help="A matrix: the first row shows the column seeds, the first column the row "
                 "seeds; each cell mixes its row's styles with its column's chosen layers.",
        ),
        OpSpec(
            "project",
            (
                IMAGE,
                ParamSpec("steps", "int", default=200, minimum=10, maximum=2000, label="Steps",
                          help="Optimisation steps (more is closer and slower)."),
                ParamSpec("learning_rate", "float", default=0.05, minimum=0.001, maximum=0.5,
                          step=0.005, label="Learning rate", help="Step size of the optimiser."),
                ParamSpec("seed", "seed", default=0, label="Seed",
                          help="Seeds the starting point (the mean w plus a little noise)."),
            ),
            label="Project",
            help="Find the w+ code whose image best matches yours (pixels plus the "
                 "discriminator's features); then edit it with sample's directions.",
        ),
        OpSpec(
            "arithmetic",
            (
                ParamSpec("latent_a", "latent", label="a", help="w+ code a (or seed a)."),
                ParamSpec("latent_b", "latent", label="b", help="w+ code b (or seed b)."),
                ParamSpec("latent_c", "latent", label="c", help="w+ code c (or seed c)."),
                ParamSpec("seed", "seed", default=0, label="Seed a", help="a, when no latent a is given."),
                ParamSpec("seed_b", "seed", default=1, label="Seed b", help="b, when no latent b is given."),
                ParamSpec("seed_c", "seed", default=2, label="Seed c", help="c, when no latent c is given."),
                TRUNCATION,
            ),
            label="Arithmetic", grid_columns=4,
            help="Latent arithmetic in w: shows a, b, c and a − b + c.",
        ),
    ),
)
