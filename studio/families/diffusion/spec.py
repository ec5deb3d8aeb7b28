"""Pixel diffusion: ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.specs import NOISE_FRAMES, SEED

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
                NOISE_FRAMES,
                ParamSpec("class_mix", "latent", label="Class mix",
                          help="With noise frames: each frame's class as weights over the "
                               "classes (one-hot = one class), instead of one class for all; "
                               "the Animator lerps them between keyframes of different classes."),
            ),
            label="Interpolate", animated=True,
            help="Slerp between the initial noises of two seeds and denoise every frame "
                 "(one class, the same step noise for all frames).",
            # the Animator renders given noise here; a seed's keyframe is its initial noise
            # and its class, a one-hot class mix, lerped between keyframes
            extra={"keyframe_latent": "noise", "keyframe_condition": "class_mix"},
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
    loader="studio.families.diffusion.model:DiffusionFamily",
    strengths=("clean, varied samples", "guidance, img2img, inpainting, forks"),
    weaknesses=("slow: one network pass per step",),
    explorer="diffusion",
    ops=_diffusion_ops("pixels"),
)
