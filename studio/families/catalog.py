"""The built-in families, in the order the registry lists them.

Each family's ops and parameter specs live beside its torch module, in
studio/families/<name>/spec.py (no torch: the window builds its panels from them before
torch has loaded); the specs several families share are in studio/families/specs.py.
"""

from __future__ import annotations

from studio.families.autoregressive.spec import AUTOREGRESSIVE
from studio.families.diffusers.spec import DIFFUSERS
from studio.families.diffusers_vae.spec import DIFFUSERS_VAE
from studio.families.diffusion.spec import DIFFUSION
from studio.families.flow.spec import FLOW
from studio.families.gan.spec import GAN
from studio.families.latent_diffusion.spec import LATENT_DIFFUSION
from studio.families.stylegan.spec import STYLEGAN
from studio.families.vae.spec import VAE

FAMILIES = (
    VAE, GAN, DIFFUSERS, DIFFUSION, LATENT_DIFFUSION, FLOW, AUTOREGRESSIVE, STYLEGAN,
    DIFFUSERS_VAE,
)

# model files from elsewhere that a family converts into a studio model folder at import
# (FamilyInfo.importers): suffix → "module:function"
FILE_IMPORTERS: dict[str, str] = {suffix: target for info in FAMILIES for suffix, target in info.importers}
