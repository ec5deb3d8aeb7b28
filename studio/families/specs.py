"""Parameter specs that several families share, declared without torch."""

from __future__ import annotations

from studio.core.params import ParamSpec

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
CENTER = ParamSpec("latent", "latent", label="Centre latent", source="center",
                   help="Start from this latent; without it, a prior sample from the seed.")
EXTENT = ParamSpec("extent", "float", default=2.5, minimum=0.25, maximum=6.0, step=0.25,
                   label="Extent (σ)", group="Directions", live=True,
                   help="How far to move along each direction, in standard deviations of the data.")
# the Animator's frames for a diffusion model's interpolate op (built-in and imported)
NOISE_FRAMES = ParamSpec("latent", "latent", label="Noise frames",
                         help="Initial noises to denoise, one per frame, instead of the slerp "
                              "between the two seeds (the Animator's frames).")

# the two ends of an interpolation, for the families that encode images
ENDPOINTS = (
    ParamSpec("latent_a", "latent", label="Start latent",
              help="Where the path starts (a latent from encode or sample)."),
    ParamSpec("latent_b", "latent", label="End latent",
              help="Where the path ends (a latent from encode or sample)."),
    ParamSpec("image_a", "image", label="Start image",
              help="An image to encode as the start, when no start latent is given."),
    ParamSpec("image_b", "image", label="End image",
              help="An image to encode as the end, when no end latent is given."),
)
