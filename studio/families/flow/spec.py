"""The flow family's ops and parameter specs, without torch."""

from __future__ import annotations

from dataclasses import replace

from studio.core.params import OpSpec, ParamSpec
from studio.core.registry import FamilyInfo
from studio.families.specs import COUNT, ENDPOINTS, SEED

# -- flow --------------------------------------------------------------------------------
# A flow's latent has as many numbers as the image (1024 for 32 × 32 gray), all scales'
# latents flattened into one vector, so any latent decodes exactly.
L_CLASS = ParamSpec("class_index", "int", default=-1, minimum=-1, maximum=255, label="Class",
                    help="For a class-conditional model: the class to draw (−1 = a random "
                         "class per image). Ignored by unconditional models.")
# a likelihood without a class is the image's likelihood over all of them, not a random one
L_CLASS_ANY = replace(L_CLASS, unset_label="Any (all classes)",
                      help="For a class-conditional model: the class to score the image "
                           "under (−1 = any: its likelihood over all classes, mapped under "
                           "the most likely one). Ignored by unconditional models.")
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
    loader="studio.families.flow.model:FlowFamily",
    strengths=("exact likelihood (bits/dim)", "exact encode and decode", "one pass to sample"),
    weaknesses=("many parameters for its sample quality",),
    explorer="flow",
    ops=(
        OpSpec("sample", (SEED, COUNT, FLOW_TEMPERATURE, L_CLASS), label="Sample",
               help="Invert random draws from the prior at the given temperature."),
        OpSpec("likelihood", (L_IMAGE, L_CLASS_ANY), label="Likelihood",
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
