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

VAE = FamilyInfo(
    name="vae",
    label="VAE",
    description="Variational autoencoder: a smooth latent space to encode, decode, "
                "interpolate and map.",
    loader="studio.families.vae:VAEFamily",
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
    loader="studio.families.gan:GANFamily",
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

# -- imported diffusers pipelines ------------------------------------------------------
# A user's own local diffusers folder (DDPM, DDIM, LDM, Stable Diffusion, SDXL); the
# implementation is studio/families/diffusers_import.py. The names are the ones every
# diffusion family shares, so recipes read the same.
SCHEDULER_CHOICES = ("ddpm", "ddim", "dpm++", "euler", "euler_a")
_DF_GENERAL = (
    ParamSpec("prompt", "text", default="", label="Prompt", group="Conditioning",
              help="What to draw (Stable Diffusion and SDXL; unconditional pipelines ignore it)."),
    ParamSpec("negative_prompt", "text", default="", label="Negative prompt",
              group="Conditioning", help="What to steer away from (with guidance above 1)."),
    SEED,
    ParamSpec("steps", "int", default=25, minimum=1, maximum=1000, label="Steps",
              group="Sampler", help="Denoising steps. More is slower and, up to a point, cleaner."),
    ParamSpec("scheduler", "choice", default="dpm++", choices=SCHEDULER_CHOICES,
              label="Scheduler", group="Sampler", help="The sampler, built from the model's own noise schedule: "
              "DDPM, DDIM, DPM-Solver++ (multistep), Euler, Euler ancestral."),
    ParamSpec("eta", "float", default=0.0, minimum=0.0, maximum=1.0, step=0.05, label="η (eta)",
              group="Sampler", help="DDIM's noise per step: 0 is deterministic DDIM, 1 is like DDPM. "
                   "Only the DDIM scheduler uses it."),
    ParamSpec("guidance", "float", default=7.5, minimum=0.0, maximum=30.0, step=0.5,
              label="Guidance (CFG)", group="Conditioning", help="Classifier-free guidance scale; 1 (or less) "
              "turns it off. Text-conditioned pipelines only."),
    ParamSpec("count", "int", default=1, minimum=1, maximum=16, label="Images",
              help="How many images to make in one batch (seed drives them all)."),
)
_DF_SIZE = (
    ParamSpec("width", "int", default=0, minimum=0, maximum=2048, step=8, label="Width",
              help="Image width in pixels, a multiple of 8; 0 = the model's own size. "
                   "Stable Diffusion and SDXL only.", group="Size"),
    ParamSpec("height", "int", default=0, minimum=0, maximum=2048, step=8, label="Height",
              help="Image height in pixels, a multiple of 8; 0 = the model's own size. "
                   "Stable Diffusion and SDXL only.", group="Size"),
)
_DF_MEMORY = (
    ParamSpec("timeline", "bool", default=True, label="Keep the step timeline", group="Timeline",
              help="Keep every step's latent and predicted image, to scrub through afterwards."),
    ParamSpec("attention_slicing", "bool", default=False, label="Attention slicing",
              group="Memory", help="Compute attention in slices: less memory, a little slower."),
    ParamSpec("vae_tiling", "bool", default=False, label="VAE tiling", group="Memory",
              help="Encode and decode large images tile by tile: less memory."),
    ParamSpec("cpu_offload", "bool", default=False, label="CPU offload", group="Memory",
              help="Keep each part of the model in CPU memory until it runs (CUDA only): "
                   "much less GPU memory, slower."),
    ParamSpec("dtype", "choice", default="auto", choices=("auto", "fp32", "fp16", "bf16"),
              label="Precision", group="Memory",
              help="auto: fp16 on a CUDA GPU, fp32 elsewhere. fp16 and bf16 need a GPU."),
)
_DF_MASK = ParamSpec("mask", "mask", required=True, label="Mask",
                     help="Painted on the canvas: white is repainted, black is kept.")

DIFFUSERS = FamilyInfo(
    name="diffusers",
    label="Diffusers pipeline",
    description="Your own local diffusers folder: DDPM, DDIM, latent diffusion, Stable "
                "Diffusion or SDXL, with prompts, schedulers, guidance, img2img and inpainting.",
    loader="studio.families.diffusers_import:DiffusersFamily",
    strengths=("prompts, schedulers and guidance", "img2img and inpainting"),
    weaknesses=("slow: one network pass per step", "large; needs a GPU for big models"),
    explorer="diffusion",  # prompts come from the panel; the same tabs as the built-ins
    ops=(
        OpSpec("sample", _DF_GENERAL + _DF_SIZE + _DF_MEMORY, label="Generate",
               help="Denoise from the seed's noise, step by step."),
        OpSpec("img2img", (IMAGE,) + _DF_GENERAL + (
            ParamSpec("strength", "float", default=0.6, minimum=0.0, maximum=1.0, step=0.05,
                      label="Strength", help="How much to change the image: 0 keeps it, "
                      "1 ignores it (SDEdit: how far along the schedule it is noised)."),
        ) + _DF_SIZE + _DF_MEMORY, label="Image to image",
               help="Noise the canvas image part of the way, then denoise it (SDEdit)."),
        OpSpec("inpaint", (IMAGE, _DF_MASK) + _DF_GENERAL + (
            ParamSpec("strength", "float", default=1.0, minimum=0.0, maximum=1.0, step=0.05,
                      label="Strength", help="How much of the masked part to change: 1 "
                      "repaints it from noise, less keeps some of what was there."),
        ) + _DF_SIZE + _DF_MEMORY, label="Inpaint",
               help="Repaint the masked part of the canvas image; the rest stays."),
        OpSpec("fork", _DF_GENERAL + (
            ParamSpec("fork_step", "int", default=10, minimum=0, maximum=1000,
                      label="Fork at step", group="Fork",
                      help="Steps run with the sample's settings before the branch (0 = from "
                           "the start; at or past the last step, the original)."),
            ParamSpec("fork_seed", "seed", default=0, label="Branch seed", group="Fork",
                      help="The branch's seed. Equal to the seed: the original noise. Another: "
                           "the noise in x_k is re-drawn (the predicted image is kept) and so "
                           "is every later step's noise."),
            ParamSpec("fork_guidance", "float", default=7.5, minimum=0.0, maximum=30.0,
                      step=0.5, label="Branch guidance", group="Fork",
                      help="Guidance after the fork step."),
            ParamSpec("fork_prompt", "text", default="", label="Branch prompt", group="Fork",
                      help="The prompt after the fork step (empty = the sample's prompt)."),
        ) + _DF_SIZE + _DF_MEMORY, label="Fork",
               help="Branch a sample at step k with a new seed, guidance or prompt; the first "
                    "k steps are the sample's own (reused from its timeline when kept)."),
    ),
)

FAMILIES: tuple[FamilyInfo, ...] = (VAE, GAN, DIFFUSERS)

# -- diffusion ---------------------------------------------------------------------------
# Shared by the built-in pixel and latent models (diffusion.py, latent_diffusion.py) and
# by imported diffusers pipelines: the same names build the same panels and CLI options.
SCHEDULERS = ("ddpm", "ddim", "dpm++", "euler", "euler_a")
D_STEPS = ParamSpec("steps", "int", default=25, minimum=1, maximum=1000, label="Steps",
                    group="Sampler", help="Denoising steps. More is slower and usually cleaner.")
D_SCHEDULER = ParamSpec("scheduler", "choice", default="dpm++", choices=SCHEDULERS,
                        label="Scheduler", group="Sampler",
                        help="ddpm: ancestral, needs many steps; ddim: deterministic at eta 0; "
                             "dpm++: DPM-Solver++ multistep, good in 20 steps; euler; "
                             "euler_a: Euler ancestral (adds noise every step).")
D_ETA = ParamSpec("eta", "float", default=0.0, minimum=0.0, maximum=1.0, step=0.05, label="Eta",
                  group="Sampler",
                  help="DDIM's eta: noise added per step (0 = deterministic, 1 = DDPM-like). "
                       "Other schedulers ignore it (ddpm and euler_a always add noise).")
D_GUIDANCE = ParamSpec("guidance", "float", default=3.0, minimum=0.0, maximum=20.0, step=0.25,
                       label="Guidance", group="Conditioning",
                       help="Classifier-free guidance scale: 1 = the conditional model alone, "
                            "higher follows the class more strongly, 0 = unconditional.")
D_CLASS = ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=255, label="Class",
                    group="Conditioning",
                    help="The class to draw (−1 = a random class per image, from the seed).")
D_NEGATIVE = ParamSpec("negative_class_index", "int", default=-1, minimum=-1, maximum=255,
                       label="Negative class", group="Conditioning",
                       help="Guidance pushes away from this class (−1 = from the unconditional "
                            "model, the usual classifier-free guidance).")
D_COUNT = ParamSpec("count", "int", default=16, minimum=1, maximum=64, label="Images",
                    help="How many images to make (image i uses seed + i).")
D_STRENGTH = ParamSpec("strength", "float", default=0.6, minimum=0.0, maximum=1.0, step=0.05,
                       label="Strength",
                       help="How much of the image is re-drawn: 0 keeps it, 1 ignores it (SDEdit).")
D_IMAGE = ParamSpec("image", "image", required=True, label="Image",
                    help="The canvas image, resized to the model's resolution.")
D_MASK = ParamSpec("mask", "mask", required=True, label="Mask",
                   help="White (≥ 128) = repaint, black = keep. Resized to the model's resolution.")
D_SAMPLER = (D_STEPS, D_SCHEDULER, D_ETA)
D_CONDITION = (D_GUIDANCE, D_CLASS, D_NEGATIVE)
D_SAMPLE_PARAMS = (SEED, D_COUNT) + D_SAMPLER + D_CONDITION
D_FORK = (
    ParamSpec("fork_step", "int", default=10, minimum=0, maximum=1000, label="Fork at step",
              group="Fork", help="Steps run with the original settings before the branch "
                                 "(0 = from the start; at or past the last step, the original)."),
    ParamSpec("fork_seed", "seed", default=0, label="Branch seed", group="Fork",
              help="The branch's seed. Equal to the seed: the original noise. Another: the "
                   "noise in x_k is re-drawn (the predicted image is kept) and so is every "
                   "later step's noise."),
    ParamSpec("fork_guidance", "float", default=3.0, minimum=0.0, maximum=20.0, step=0.25,
              label="Branch guidance", group="Fork", help="Guidance after the fork step."),
    ParamSpec("fork_class_index", "int", default=-1, minimum=-1, maximum=255,
              label="Branch class", group="Fork",
              help="Class after the fork step (−1 = a random class per image, from the branch seed)."),
)


def _diffusion_ops(unit: str) -> tuple[OpSpec, ...]:
    return (
        OpSpec("sample", D_SAMPLE_PARAMS, label="Sample",
               help=f"Denoise Gaussian noise {unit} into images, step by step; the predicted "
                    "image is shown as it forms."),
        OpSpec("img2img", (D_IMAGE, D_STRENGTH) + D_SAMPLE_PARAMS, label="Image to image",
               help="Noise the canvas image to the strength's level, then denoise it (SDEdit)."),
        OpSpec("inpaint", (D_IMAGE, D_MASK) + D_SAMPLE_PARAMS, label="Inpaint",
               help="Repaint the masked part; the rest stays the canvas image."),
        OpSpec(
            "interpolate",
            (
                SEED,
                ParamSpec("seed_b", "seed", default=1, label="End seed",
                          help="The seed whose initial noise the path ends at."),
                ParamSpec("frames", "int", default=9, minimum=2, maximum=64, label="Frames",
                          help="Images along the path, ends included."),
            ) + D_SAMPLER + D_CONDITION + (
                ParamSpec("latent", "latent", label="Noise frames",
                          help="Initial noises to denoise, one per frame, instead of the slerp "
                               "between the two seeds (the Animator's frames)."),
            ),
            label="Interpolate", animated=True,
            help="Slerp between the initial noises of two seeds and denoise every frame "
                 "(one class, the same step noise for all frames).",
            # the Animator renders given noise here; a seed's keyframe is its initial noise
            extra={"keyframe_latent": "noise"},
        ),
        OpSpec("fork", D_SAMPLE_PARAMS + D_FORK, label="Fork",
               help="Run sample's settings to step k (reusing its stored timeline), then "
                    "continue with the branch's seed, guidance or class. Identical settings "
                    "reproduce the original exactly."),
    )


DIFFUSION = FamilyInfo(
    name="diffusion",
    label="Diffusion",
    description="Class-conditional denoising diffusion in pixel space: schedulers, "
                "classifier-free guidance, img2img, inpainting and a step timeline to fork from.",
    loader="studio.families.diffusion:DiffusionFamily",
    strengths=("clean, varied samples", "guidance, img2img, inpainting, forks"),
    weaknesses=("slow: one network pass per step",),
    explorer="diffusion",
    ops=_diffusion_ops("pixels"),
)

LATENT_DIFFUSION = FamilyInfo(
    name="latent_diffusion",
    label="Latent diffusion",
    description="Class-conditional diffusion in the spatial latent of the built-in VAE: "
                "the same steering as pixel diffusion, on a 16× smaller tensor.",
    loader="studio.families.latent_diffusion:LatentDiffusionFamily",
    strengths=("diffusion's steering on a 16× smaller tensor", "faster than pixel diffusion"),
    weaknesses=("still one pass per step", "detail bounded by the VAE's decoder"),
    explorer="diffusion",
    ops=_diffusion_ops("in the VAE's latent"),
)

FAMILIES = FAMILIES + (DIFFUSION, LATENT_DIFFUSION)

# -- flow --------------------------------------------------------------------------------
# A flow's latent has as many numbers as the image (1024 for 32 × 32 gray), all scales'
# latents flattened into one vector, so any latent decodes exactly.
L_CLASS = ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=255, label="Class",
                    help="For a class-conditional model: the class to draw (−1 = a random "
                         "class per image). Ignored by unconditional models.")
L_IMAGE = ParamSpec("image", "image", required=True, label="Image",
                    help="An image from the canvas (or dropped on it), resized to the model's resolution.")
FLOW_LATENT = ParamSpec("latent", "latent", required=True, label="Latent",
                        help="A flow latent (all scales, flattened), as made by encode or sample.")
FLOW_TEMPERATURE = ParamSpec("temperature", "float", default=0.7, minimum=0.0, maximum=1.5,
                             step=0.05, label="Temperature", live=True,
                             help="Scales the prior's standard deviation at every scale. "
                                  "1 is the model's true distribution; lower is cleaner "
                                  "and less varied (Glow samples at 0.7).")

FLOW = FamilyInfo(
    name="flow",
    label="Flow",
    description="Normalizing flow (Glow-style): exact likelihood in bits per dimension, "
                "exact encode and decode, interpolation in z.",
    loader="studio.families.flow:FlowFamily",
    strengths=("exact likelihood (bits/dim)", "exact encode and decode", "one pass to sample"),
    weaknesses=("many parameters for its sample quality",),
    explorer="flow",
    ops=(
        OpSpec("sample", (SEED, COUNT, FLOW_TEMPERATURE, L_CLASS), label="Sample",
               help="Invert random draws from the prior at the given temperature."),
        OpSpec("likelihood", (L_IMAGE, L_CLASS), label="Likelihood",
               help="The image's exact likelihood in bits per dimension, and maps of where "
                    "those bits are spent: per pixel, and per scale of the flow."),
        OpSpec("encode", (L_IMAGE,), label="Encode",
               help="Run the flow forwards: the image's latent z (decodes back exactly)."),
        OpSpec("decode", (FLOW_LATENT,), label="Decode", help="Run the flow backwards from a latent."),
        OpSpec("reconstruct", (L_IMAGE,), label="Round trip",
               help="Encode then decode: a flow is invertible, so the image comes back."),
        OpSpec(
            "interpolate",
            (
                *ENDPOINTS,
                SEED,
                ParamSpec("frames", "int", default=9, minimum=2, maximum=64, label="Frames",
                          help="Images along the path, ends included."),
                ParamSpec("method", "choice", default="lerp", choices=("lerp", "slerp"),
                          label="Path", help="lerp: a straight line in z (Glow's choice); "
                          "slerp: along the sphere."),
                FLOW_TEMPERATURE, L_CLASS,
            ),
            label="Interpolate", animated=True,
            help="Encode two images (or draw two samples from the seed) and walk between "
                 "their latents; every frame is an exact inverse.",
        ),
    ),
)

# -- autoregressive ---------------------------------------------------------------------
AR_TEMPERATURE = ParamSpec("temperature", "float", default=1.0, minimum=0.05, maximum=2.0,
                           step=0.05, label="Temperature",
                           help="Divides the logits of every pixel's 256-way distribution: "
                                "below 1 is bolder and less varied, 1 is the model itself.")
AR_TOP_K = ParamSpec("top_k", "int", default=0, minimum=0, maximum=256, label="Top-k",
                     help="Draw each pixel from its k most likely values only (0 = all).")
AR_SAMPLER = ParamSpec("sampler", "choice", default="cached", choices=("cached", "plain"),
                       label="Sampler", group="Sampler",
                       help="cached: recompute only the new row and pixel (fast). plain: the "
                            "whole network over the whole image for every pixel (slow, "
                            "the reference; the same seed gives the same image).")

AUTOREGRESSIVE = FamilyInfo(
    name="autoregressive",
    label="Autoregressive",
    description="Gated PixelCNN: paints pixel by pixel, completes erased regions, and gives "
                "the exact likelihood of any image, pixel by pixel.",
    loader="studio.families.autoregressive:AutoregressiveFamily",
    strengths=("exact likelihood, pixel by pixel", "completes erased regions"),
    weaknesses=("slow: one pass per pixel", "no latent space"),
    explorer="autoregressive",
    ops=(
        OpSpec("sample", (SEED, ParamSpec("count", "int", default=8, minimum=1, maximum=64,
                                          label="Images", help="How many images to paint at once."),
                          AR_TEMPERATURE, AR_TOP_K, L_CLASS, AR_SAMPLER),
               label="Sample", help="Paint new images pixel by pixel, in raster order; the "
                                    "canvas shows the pixels as they are drawn."),
        OpSpec(
            "complete",
            (
                L_IMAGE,
                ParamSpec("mask", "mask", required=True, label="Mask",
                          help="White (≥ 128) = erase and repaint, black = keep. "
                               "Resized to the model's resolution."),
                SEED,
                ParamSpec("variations", "int", default=4, minimum=1, maximum=16,
                          label="Variations", help="How many different completions to paint, side by side."),
                AR_TEMPERATURE, AR_TOP_K, L_CLASS,
            ),
            label="Complete",
            help="Repaint the erased pixels, each conditioned on every pixel before it; the "
                 "kept pixels stay exactly as they were. Variations are ordered by the "
                 "likelihood of the whole image, so the pixels below the hole have a say.",
        ),
        OpSpec("likelihood", (L_IMAGE, L_CLASS), label="Likelihood",
               help="The image's exact negative log-likelihood in bits per dimension, and a "
                    "heatmap of the bits spent on each pixel."),
    ),
)

FAMILIES = FAMILIES + (FLOW, AUTOREGRESSIVE)

# -- imported StyleGAN2 / StyleGAN3 ------------------------------------------------------
# NVIDIA's network pickles, read as data and converted at import (studio/families/stylegan).
# The GAN's ops and explorer, with NVIDIA's seed scheme and a wider truncation range.
SG_TRUNCATION = ParamSpec("truncation", "float", default=1.0, minimum=-1.0, maximum=2.0, step=0.05,
                          label="Truncation ψ", live=True,
                          help="Pulls each style towards the mean w (w_avg.lerp(w, ψ)): 0 gives "
                               "the average image, 1 the full variety, below 0 the opposite "
                               "side, above 1 exaggerates.")
SG_CLASS = ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=100_000, label="Class",
                     help="For a class-conditional model: the class (one-hot), −1 = a class "
                          "drawn from the seed. Ignored by unconditional models.")
NOISE_MODE = ParamSpec("noise_mode", "choice", default="const", choices=("const", "random", "none"),
                       label="Noise", help="StyleGAN2's per-pixel noise: const (the model's stored "
                       "noise, as gen_images.py's default), random (drawn from the seed) or none. "
                       "StyleGAN3 has no noise inputs.")
PREVIEW_RES = ParamSpec("preview_resolution", "int", default=0, minimum=0, maximum=4096,
                        label="Preview resolution", group="Advanced",
                        help="Above 0: stop StyleGAN2's synthesis at this resolution and show "
                             "that level's image upscaled (the explorer's live preview while a "
                             "slider moves). 0 = the full frame.")


SG_COUNT = ParamSpec("count", "int", default=4, minimum=1, maximum=64, label="Images",
                     help="How many images to make in one grid (seed, seed+1, ...). A 256-px "
                          "StyleGAN takes about a second per image on a CPU.")


def _stylegan_op(op: OpSpec) -> OpSpec:
    swap = {"truncation": SG_TRUNCATION, "class_index": SG_CLASS, "count": SG_COUNT}
    params = tuple(swap.get(p.name, p) for p in op.params)
    if op.name in ("sample", "interpolate", "walk", "mix", "arithmetic"):
        params += (NOISE_MODE,)
    if op.name == "sample":
        params += (PREVIEW_RES,)
    help_text = op.help
    if op.name == "sample":
        help_text += " Seed S is np.random.RandomState(S).randn(1, z_dim), as NVIDIA's gen_images.py."
    return OpSpec(op.name, params, label=op.label, help=help_text, steps=op.steps,
                  animated=op.animated, grid_columns=op.grid_columns, extra=op.extra)


STYLEGAN = FamilyInfo(
    name="stylegan",
    label="StyleGAN",
    description="Your own StyleGAN2 or StyleGAN3 network pickle (NVIDIA's stylegan2-ada-pytorch "
                "or stylegan3), read without running its code: seeds, truncation, directions, "
                "walks, style mixing and projection.",
    loader="studio.families.stylegan.family:StyleGANFamily",
    strengths=GAN.strengths + ("the community's trained models",),
    weaknesses=GAN.weaknesses + ("large: slow on a CPU at full size",),
    explorer="gan",
    ops=tuple(_stylegan_op(op) for op in GAN.ops),
    importers=((".pkl", "studio.families.stylegan.importer:import_network_pickle"),),
)

FAMILIES = FAMILIES + (STYLEGAN,)

# -- diffusers autoencoders (issue 15): the VAE explorer on a user's own AutoencoderKL ----
_WORKING_SIZE = ParamSpec(
    "working_size", "int", default=256, minimum=64, maximum=1024, step=8, label="Working size",
    help="Images are centre-cropped to this square and resized to it before encoding "
         "(multiples of 8). Decoding takes seconds at 256 px on a CPU and half a minute at "
         "512 px; above 512 px the autoencoder decodes in tiles.")
_DIRECTIONS_FOLDER = ParamSpec(
    "directions_folder", "text", default="", label="Directions from folder", group="Directions",
    help="A folder of images to encode for the principal directions (with progress). Empty: "
         "the latents of the images you have encoded with this model.")

DIFFUSERS_VAE = FamilyInfo(
    name="diffusers_vae",
    label="Diffusers autoencoder",
    description="Your own diffusers AutoencoderKL (a standalone folder, or the vae/ of a "
                "Stable Diffusion or SDXL pipeline): encode your photos, interpolate between "
                "them, walk the main directions of their latents.",
    loader="studio.families.diffusers_vae:DiffusersVAEFamily",
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

FAMILIES = FAMILIES + (DIFFUSERS_VAE,)

# model files from elsewhere that a family converts into a studio model folder at import
# (FamilyInfo.importers): suffix → "module:function"
FILE_IMPORTERS: dict[str, str] = {suffix: target for info in FAMILIES for suffix, target in info.importers}
