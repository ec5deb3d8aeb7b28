"""Imported StyleGAN2/3 models: ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.gan.spec import GAN

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
