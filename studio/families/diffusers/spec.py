"""Imported diffusers pipelines: ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.diffusion.spec import SCHEDULERS
from studio.families.specs import IMAGE, NOISE_FRAMES, SEED

# -- imported diffusers pipelines ------------------------------------------------------
# A user's own local diffusers folder (DDPM, DDIM, LDM, Stable Diffusion, SDXL); the
# implementation is studio/families/diffusers/model.py. The names are the ones every
# diffusion family shares, so recipes read the same.
_DF_GENERAL = (
    ParamSpec("prompt", "text", default="", label="Prompt", group="Conditioning",
              help="What to draw (Stable Diffusion and SDXL; unconditional pipelines ignore it)."),
    ParamSpec("negative_prompt", "text", default="", label="Negative prompt",
              group="Conditioning", help="What to steer away from (with guidance above 1)."),
    SEED,
    ParamSpec("steps", "int", default=25, minimum=1, maximum=1000, label="Steps",
              group="Sampler", help="Denoising steps. More is slower and, up to a point, cleaner."),
    ParamSpec("scheduler", "choice", default="dpm++", choices=SCHEDULERS,
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
# interpolate: _DF_GENERAL without its count (the frames make the batch)
_DF_INTERPOLATE = tuple(p for p in _DF_GENERAL if p.name != "count") + (
    ParamSpec("seed_b", "seed", default=1, label="End seed",
              help="The seed whose initial noise the path ends at."),
    ParamSpec("frames", "int", default=9, minimum=2, maximum=64, label="Frames",
              help="Images along the path, ends included."),
)
_DF_MASK = ParamSpec("mask", "mask", required=True, label="Mask",
                     help="Painted on the canvas: white is repainted, black is kept.")

DIFFUSERS = FamilyInfo(
    name="diffusers",
    label="Diffusers pipeline",
    description="Your own local diffusers folder: DDPM, DDIM, latent diffusion, Stable "
                "Diffusion or SDXL, with prompts, schedulers, guidance, img2img and inpainting.",
    loader="studio.families.diffusers.model:DiffusersFamily",
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
        OpSpec("interpolate", _DF_INTERPOLATE + _DF_SIZE + _DF_MEMORY + (
            NOISE_FRAMES,
            ParamSpec("prompt_embedding", "latent", label="Prompt embeddings",
                      help="With noise frames (Stable Diffusion, SDXL): each frame's prompt "
                           "embedding, flattened, instead of the prompt's; the Animator lerps "
                           "them between keyframes of different prompts."),
        ), label="Interpolate", animated=True,
               help="Slerp between the initial noises of two seeds and denoise every frame "
                    "(one prompt, the same step noise for every frame).",
               # the Animator renders given noise here; a seed's keyframe is its initial noise
               # and its prompt's embedding, lerped between keyframes
               extra={"keyframe_latent": "noise", "keyframe_condition": "prompt_embedding"}),
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
