"""Tiny diffusers pipeline folders, built from configs and saved as safetensors.

The hub's tiny-random models cannot be fetched here, so every component is made from a
config with a fixed seed (as diffusers' own fast tests build their dummy components),
and the CLIP tokenizer from a vocab.json and merges.txt written here. Each builder
writes a complete pipeline folder (model_index.json and one subfolder per component)
and returns it. 32 × 32 px images, one or two blocks: a run takes milliseconds.

    folder = make_pipeline_folder("sd", tmp_path / "tiny-sd")
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import torch

KINDS = ("ddpm", "ddim", "ldm", "sd", "sdxl")
IMAGE_SIZE = 32
# the CLIP text encoders read prompts of this many tokens, as the real ones do
MAX_TOKENS = 77


def make_pipeline_folder(kind: str, folder: Path) -> Path:
    """Build the tiny pipeline of `kind` (see KINDS), save it to `folder`, return it."""
    pipe = build_pipeline(kind)
    pipe.save_pretrained(folder, safe_serialization=True)
    for name in ("tokenizer", "tokenizer_2"):  # as real folders ship them: vocab + merges
        if (folder / name).is_dir():
            for old in (folder / name).iterdir():
                old.unlink()
            write_tokenizer_files(folder / name)
    return folder


def build_pipeline(kind: str):
    """The tiny pipeline of `kind`, in memory."""
    from diffusers import (
        DDIMPipeline,
        DDPMPipeline,
        LDMPipeline,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
    )

    if kind == "ddpm":
        return DDPMPipeline(unet=_pixel_unet(), scheduler=_ddpm_scheduler())
    if kind == "ddim":
        return DDIMPipeline(unet=_pixel_unet(), scheduler=_ddim_scheduler())
    if kind == "ldm":
        return LDMPipeline(vqvae=_vq_model(), unet=_latent_unet(), scheduler=_ddim_scheduler())
    if kind == "sd":
        return StableDiffusionPipeline(
            vae=_autoencoder(), text_encoder=_text_encoder(), unet=_cond_unet(cross=32),
            tokenizer=make_tokenizer(),
            scheduler=_ddim_scheduler(scaled=True), safety_checker=None,
            feature_extractor=None, requires_safety_checker=False)
    if kind == "sdxl":
        tokenizer = make_tokenizer()
        return StableDiffusionXLPipeline(
            vae=_autoencoder(), text_encoder=_text_encoder(),
            text_encoder_2=_text_encoder(projection=True), tokenizer=tokenizer,
            tokenizer_2=tokenizer, unet=_cond_unet(cross=64, xl=True),
            scheduler=_euler_scheduler())
    raise ValueError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


# -- schedulers --------------------------------------------------------------------------
def _ddpm_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(num_train_timesteps=1000, clip_sample=True)


def _ddim_scheduler(scaled: bool = False):
    from diffusers import DDIMScheduler

    if scaled:  # as Stable Diffusion's
        return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                             clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    return DDIMScheduler(num_train_timesteps=1000)


def _euler_scheduler():
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                  beta_schedule="scaled_linear", timestep_spacing="leading")


# -- models ------------------------------------------------------------------------------
def _pixel_unet():
    from diffusers import UNet2DModel

    torch.manual_seed(0)
    return UNet2DModel(sample_size=IMAGE_SIZE, in_channels=3, out_channels=3,
                       block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), attention_head_dim=8)


def _latent_unet():
    from diffusers import UNet2DModel

    torch.manual_seed(1)
    return UNet2DModel(sample_size=IMAGE_SIZE // 2, in_channels=4, out_channels=4,
                       block_out_channels=(8, 16), layers_per_block=1, norm_num_groups=4,
                       down_block_types=("DownBlock2D", "AttnDownBlock2D"),
                       up_block_types=("AttnUpBlock2D", "UpBlock2D"), attention_head_dim=8)


def _vq_model():
    from diffusers import VQModel

    torch.manual_seed(2)
    return VQModel(block_out_channels=(8, 16), in_channels=3, out_channels=3,
                   down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                   up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
                   latent_channels=4, num_vq_embeddings=32, norm_num_groups=4,
                   sample_size=IMAGE_SIZE)


def _autoencoder():
    from diffusers import AutoencoderKL

    torch.manual_seed(3)
    return AutoencoderKL(block_out_channels=(8, 16), in_channels=3, out_channels=3,
                         down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
                         up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
                         latent_channels=4, norm_num_groups=4, sample_size=IMAGE_SIZE)


def _cond_unet(cross: int, xl: bool = False):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(4)
    extra = {}
    if xl:  # SDXL: pooled text embeddings and the size/crop ids join the time embedding
        extra = dict(addition_embed_type="text_time", addition_time_embed_dim=8,
                     # 6 size/crop ids × 8 + the pooled projection (32)
                     projection_class_embeddings_input_dim=6 * 8 + 32,
                     use_linear_projection=True)
    return UNet2DConditionModel(
        sample_size=IMAGE_SIZE // 2, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(8, 16), norm_num_groups=4, cross_attention_dim=cross,
        attention_head_dim=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), **extra)


def _text_encoder(projection: bool = False):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(5 + int(projection))
    config = CLIPTextConfig(bos_token_id=0, eos_token_id=2, pad_token_id=1, hidden_size=32,
                            intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                            layer_norm_eps=1e-5, vocab_size=len(tokenizer_vocab()),
                            max_position_embeddings=MAX_TOKENS, projection_dim=32,
                            hidden_act="gelu")
    model = (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)
    return model.eval()


# -- the tokenizer -----------------------------------------------------------------------
def _byte_alphabet() -> list[str]:
    """The 256 printable characters byte-level BPE maps the bytes to (as GPT-2 and CLIP)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
            *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for byte in range(256):
        if byte in keep:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


MERGES = ("t h", "th e</w>", "a n", "o n", "e r", "i n", "c a", "ca t</w>", "r e", "o f</w>")


def tokenizer_vocab() -> dict[str, int]:
    tokens = ["<|startoftext|>", "!!", "<|endoftext|>"]  # bos 0, pad 1, eos 2
    alphabet = _byte_alphabet()
    tokens += alphabet + [c + "</w>" for c in alphabet]
    tokens += ["".join(m.split()) for m in MERGES]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def write_tokenizer_files(folder: Path) -> Path:
    """vocab.json, merges.txt and tokenizer_config.json of a tiny CLIP tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(tokenizer_vocab()), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(MERGES) + "\n",
                                       encoding="utf-8")
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": MAX_TOKENS,
              "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
              "unk_token": "<|endoftext|>", "pad_token": "!!", "do_lower_case": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def make_tokenizer():
    from transformers import CLIPTokenizer

    with tempfile.TemporaryDirectory() as scratch:
        return CLIPTokenizer.from_pretrained(write_tokenizer_files(Path(scratch)),
                                             local_files_only=True)
