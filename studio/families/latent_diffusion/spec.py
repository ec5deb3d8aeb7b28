"""Latent diffusion: ops and parameter specs, without torch."""

from __future__ import annotations

from studio.core.registry import FamilyInfo
from studio.families.diffusion.spec import _diffusion_ops

LATENT_DIFFUSION = FamilyInfo(
    name="latent_diffusion",
    label="Latent diffusion",
    description="Class-conditional diffusion in the spatial latent of the built-in VAE: "
                "the same steering as pixel diffusion, on a 16× smaller tensor.",
    loader="studio.families.latent_diffusion.model:LatentDiffusionFamily",
    strengths=("diffusion's steering on a 16× smaller tensor", "faster than pixel diffusion"),
    weaknesses=("still one pass per step", "detail bounded by the VAE's decoder"),
    explorer="diffusion",
    ops=_diffusion_ops("in the VAE's latent"),
)
