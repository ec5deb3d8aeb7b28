"""The autoregressive (PixelCNN) family's ops and parameter specs, without torch."""

from __future__ import annotations

from dataclasses import replace

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.flow.spec import L_CLASS, L_CLASS_ANY, L_IMAGE
from studio.families.specs import SEED

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
# a completion without a class takes the one that best explains the pixels kept before
# the hole, not a random one
AR_CLASS_FIT = replace(L_CLASS, unset_label="Best fit to the kept pixels",
                       help="For a class-conditional model: the class to repaint in (−1 = the "
                            "class that best explains the kept pixels before the hole; a "
                            "random one when the hole starts at the first pixel).")

AUTOREGRESSIVE = FamilyInfo(
    name="autoregressive",
    label="Autoregressive",
    description="Gated PixelCNN: paints pixel by pixel, completes erased regions, and gives "
                "the exact likelihood of any image, pixel by pixel.",
    loader="studio.families.autoregressive.model:AutoregressiveFamily",
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
                          help="White (≥ 128) = repaint, black = keep. "
                               "Resized to the model's resolution."),
                SEED,
                ParamSpec("variations", "int", default=4, minimum=1, maximum=16,
                          label="Variations", help="How many different completions to paint, side by side."),
                AR_TEMPERATURE, AR_TOP_K, AR_CLASS_FIT,
            ),
            label="Complete",
            help="Repaint the marked pixels, each conditioned on every pixel before it; the "
                 "kept pixels stay exactly as they were. Variations are ordered by the "
                 "likelihood of the whole image, so the pixels below the hole have a say.",
        ),
        OpSpec("likelihood", (L_IMAGE, L_CLASS_ANY), label="Likelihood",
               help="The image's exact negative log-likelihood in bits per dimension, and a "
                    "heatmap of the bits spent on each pixel."),
    ),
)
