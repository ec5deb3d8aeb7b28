"""The VAE family's ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.specs import CENTER, COUNT, ENDPOINTS, EXTENT, IMAGE, LATENT, SEED, TEMPERATURE

VAE = FamilyInfo(
    name="vae",
    label="VAE",
    description="Variational autoencoder: a smooth latent space to encode, decode, "
                "interpolate and map.",
    loader="studio.families.vae.model:VAEFamily",
    strengths=("one forward pass", "smooth latent space: encode, interpolate, map",
               "reconstructs its input"),
    weaknesses=("blurry samples (the Gaussian decoder averages)",),
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
                *ENDPOINTS,
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
