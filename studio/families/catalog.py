"""Every family's name, ops and parameter specs, declared without torch.

The window builds its panels from these before torch has loaded; the CLI builds its
options from them. The implementations live in one file per family (vae.py, ...).
"""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo

SEED = ParamSpec("seed", "seed", default=0, label="Seed",
                 help="Random seed. The same seed, parameters and device give the same image.")
TEMPERATURE = ParamSpec("temperature", "float", default=0.8, minimum=0.0, maximum=2.0, step=0.05,
                        label="Temperature", live=True,
                        help="Scales the prior noise. Lower is cleaner and less varied; 1 is the true prior.")
COUNT = ParamSpec("count", "int", default=16, minimum=1, maximum=64, label="Images",
                  help="How many images to make in one grid.")
IMAGE = ParamSpec("image", "image", required=True, label="Image",
                  help="An image from the canvas, resized to the model's resolution.")
LATENT = ParamSpec("latent", "latent", required=True, label="Latent",
                   help="A latent code, as made by encode or sample.")
CENTER = ParamSpec("latent", "latent", label="Centre latent",
                   help="Start from this latent; without it, a prior sample from the seed.")
EXTENT = ParamSpec("extent", "float", default=2.5, minimum=0.25, maximum=6.0, step=0.25,
                   label="Extent (σ)", group="Directions", live=True,
                   help="How far to move along each direction, in standard deviations of the data.")

VAE = FamilyInfo(
    name="vae",
    label="VAE",
    description="Variational autoencoder: a smooth latent space to encode, decode, "
                "interpolate and map.",
    loader="studio.families.vae:VAEFamily",
    explorer="vae",
    ops=(
        OpSpec("sample", (SEED, COUNT, TEMPERATURE), label="Sample",
               help="Decode random draws from the prior."),
        OpSpec("encode", (IMAGE,), label="Encode",
               help="Encode an image to its latent (the posterior mean); shows the reconstruction."),
        OpSpec("reconstruct", (IMAGE,), label="Reconstruct",
               help="Encode then decode an image: what the model keeps of it."),
        OpSpec("decode", (LATENT,), label="Decode", help="Decode one latent code."),
        OpSpec(
            "interpolate",
            (
                ParamSpec("latent_a", "latent", label="Start latent",
                          help="Where the path starts (a latent from encode or sample)."),
                ParamSpec("latent_b", "latent", label="End latent",
                          help="Where the path ends (a latent from encode or sample)."),
                ParamSpec("image_a", "image", label="Start image",
                          help="An image to encode as the start, when no start latent is given."),
                ParamSpec("image_b", "image", label="End image",
                          help="An image to encode as the end, when no end latent is given."),
                SEED,
                ParamSpec("frames", "int", default=9, minimum=2, maximum=64, label="Frames",
                          help="Images along the path, ends included."),
                ParamSpec("method", "choice", default="slerp", choices=("slerp", "lerp"),
                          label="Path", help="slerp keeps the norm of Gaussian latents; lerp is a straight line."),
            ),
            label="Interpolate", animated=True,
            help="A path between two latents or images (or two prior samples from the seed).",
        ),
        OpSpec(
            "traverse",
            (
                CENTER, SEED,
                ParamSpec("first_direction", "int", default=0, minimum=0, maximum=255,
                          label="First direction", group="Directions",
                          help="Index of the first principal direction shown (0 = the most variance)."),
                ParamSpec("directions", "int", default=6, minimum=1, maximum=16, label="Directions",
                          group="Directions", help="Rows of the grid: one principal direction each."),
                ParamSpec("steps", "int", default=9, minimum=3, maximum=15, label="Steps",
                          group="Directions", help="Columns of the grid, from −extent to +extent."),
                EXTENT,
            ),
            label="Traverse",
            help="Move along principal directions of the latent space, one row per direction.",
        ),
        OpSpec(
            "map",
            (
                CENTER, SEED,
                ParamSpec("direction_x", "int", default=0, minimum=0, maximum=255,
                          label="Horizontal direction", group="Directions",
                          help="Principal direction along the map's x axis."),
                ParamSpec("direction_y", "int", default=1, minimum=0, maximum=255,
                          label="Vertical direction", group="Directions",
                          help="Principal direction along the map's y axis."),
                ParamSpec("size", "int", default=9, minimum=3, maximum=16, label="Map size",
                          group="Directions", help="Images per side of the map."),
                EXTENT,
            ),
            label="Map",
            help="Decode a grid over two principal directions: a 2-D map of the latent space.",
        ),
    ),
)

FAMILIES: tuple[FamilyInfo, ...] = (VAE,)
