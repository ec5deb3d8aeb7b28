"""Latent Studio: a desktop studio for exploring generative image models."""

__version__ = "0.1.0"
