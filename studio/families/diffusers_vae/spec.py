"""Imported diffusers autoencoders: ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.specs import CENTER, ENDPOINTS, EXTENT, IMAGE, LATENT, SEED

# -- diffusers autoencoders (issue 15): the VAE explorer on a user's own AutoencoderKL ----
_WORKING_SIZE = ParamSpec(
    "working_size", "int", default=256, minimum=64, maximum=1024, step=8, label="Working size",
    help="Images are centre-cropped to this square and resized to it before encoding "
         "(multiples of 8). Decoding takes seconds at 256 px on a CPU and half a minute at "
         "512 px; above 512 px the autoencoder decodes in tiles.")
_DIRECTIONS_FOLDER = ParamSpec(
    "directions_folder", "text", default="", label="Directions from folder", group="Directions",
    help="A folder of images to encode for the principal directions (with progress). Empty: "
         "the latents of the images you have encoded with this model.", local_path=True)

DIFFUSERS_VAE = FamilyInfo(
    name="diffusers_vae",
    label="Diffusers autoencoder",
    description="Your own diffusers AutoencoderKL (a standalone folder, or the vae/ of a "
                "Stable Diffusion or SDXL pipeline): encode your photos, interpolate between "
                "them, walk the main directions of their latents.",
    loader="studio.families.diffusers_vae.model:DiffusersVAEFamily",
    strengths=("real photos in, real photos out", "smooth latent space: encode, interpolate, map"),
    weaknesses=("a slow decoder on a CPU (previews first, then decodes)",),
    explorer="vae",
    ops=(
        OpSpec("sample", (SEED, ParamSpec("count", "int", default=4, minimum=1, maximum=16,
                                          label="Images", help="How many to decode."),
                          _WORKING_SIZE), label="Sample",
               help="Decode Gaussian latents (scaled by 1 / scaling_factor, as a diffusion "
                    "model's output would be): textures, not photos."),
        OpSpec("encode", (IMAGE, _WORKING_SIZE), label="Encode",
               help="Encode an image to latent_dist.mean (unscaled); shows the reconstruction."),
        OpSpec("reconstruct", (IMAGE, _WORKING_SIZE), label="Reconstruct",
               help="decode(encode(x).latent_dist.mean): what the autoencoder keeps."),
        OpSpec("decode", (LATENT,), label="Decode", help="Decode one latent."),
        OpSpec("interpolate", (*ENDPOINTS, SEED, _WORKING_SIZE,
                               ParamSpec("frames", "int", default=7, minimum=2, maximum=32,
                                         label="Frames", help="Images along the path, ends included."),
                               ParamSpec("method", "choice", default="slerp",
                                         choices=("slerp", "lerp"), label="Path",
                                         help="slerp keeps the norm; lerp is a straight line.")),
               label="Interpolate", animated=True,
               help="A path between two encoded images; previews at once, then decodes frame "
                    "by frame."),
        OpSpec("traverse", (CENTER, SEED, _WORKING_SIZE, _DIRECTIONS_FOLDER,
                            ParamSpec("first_direction", "int", default=0, minimum=0, maximum=255,
                                      label="First direction", group="Directions",
                                      help="Index of the first principal direction shown."),
                            ParamSpec("directions", "int", default=3, minimum=1, maximum=16,
                                      label="Directions", group="Directions",
                                      help="Rows of the grid: one principal direction each."),
                            ParamSpec("steps", "int", default=5, minimum=3, maximum=15,
                                      label="Steps", group="Directions",
                                      help="Columns, from −extent to +extent."),
                            EXTENT),
               label="Traverse",
               help="Move along principal directions of your encoded images' latents."),
        OpSpec("map", (CENTER, SEED, _WORKING_SIZE, _DIRECTIONS_FOLDER,
                       ParamSpec("direction_x", "int", default=0, minimum=0, maximum=255,
                                 label="Horizontal direction", group="Directions",
                                 help="Principal direction along x."),
                       ParamSpec("direction_y", "int", default=1, minimum=0, maximum=255,
                                 label="Vertical direction", group="Directions",
                                 help="Principal direction along y."),
                       ParamSpec("size", "int", default=9, minimum=3, maximum=16, label="Map size",
                                 group="Directions", help="Images per side of the map."),
                       EXTENT),
               label="Map",
               help="A grid over two principal directions; previews at once, then fills in."),
    ),
)
