"""The studio's diffusion sampling loop: one scheduler-agnostic loop for every diffusion
model (the built-in pixel and latent models, and imported diffusers UNets).

What it does, per step i of n (scheduler from diffusers, never our own maths):
    check cancel → scale_model_input → denoiser (ONE call: [uncond, cond] batched when
    guided) → classifier-free guidance → scheduler.step(generator=per-image generators)
    → inpaint blend (the known region re-noised to the next level) → x0 estimate →
    on_step(i, n, x_t, x0) (the family's previews, progress and filmstrip).

It knows nothing about the network: the caller hands it

    denoiser(x, t, cond) -> model output      # x (B, C, H, W), t a scalar tensor,
                                              # cond: a tensor (B, ...) or a dict of them
    Guidance(cond, uncond, scale)             # uncond: the null class / empty prompt

so a class-conditional UNet2DModel, an imported DDPM UNet (cond ignored) and a
Stable Diffusion UNet (cond = text embeddings, maybe a dict with added_cond_kwargs) all
fit. The batch order [uncond, cond] and the formula u + s·(c − u) are diffusers'.
scale = 1 runs the conditional model alone (one batch of B), scale = 0 the unconditional
alone.

Timeline and fork. With `capture=True`, `run` keeps a `StepState` before every step:
x_t, a snapshot of the scheduler's mutable state (multistep history, step index, ...)
and every per-image generator's RNG state, plus each step's x0 estimate. `run(state=...)`
resumes from any of them, so a fork is: take state k (from the stored timeline, or by
running to `stop=k`), change guidance / conditioning / generators, run on. With nothing
changed, the continuation is bit-for-bit the original, for every scheduler here.

Helpers: `make_scheduler(name, config, ...)` builds one of SCHEDULERS from any scheduler
config (a trained model's DDPM config, or an imported pipeline's), `noise_to(x0, noise, i)`
puts a clean latent at step i's noise level (img2img start, inpaint blend), and
`is_sigma_space` tells Euler-type schedulers (x = x0 + σ·ε) from the others
(x = √ᾱ·x0 + √(1−ᾱ)·ε).

No Qt; torch and diffusers only. The caller's JobContext goes in as `check_cancelled`.
"""

from __future__ import annotations

import inspect
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
)

from studio.families.diffusion.spec import SCHEDULERS  # the choice values the specs offer

_CLASSES = {
    "ddpm": DDPMScheduler,
    "ddim": DDIMScheduler,
    "dpm++": DPMSolverMultistepScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
}
_SIGMA_SPACE = (EulerDiscreteScheduler, EulerAncestralDiscreteScheduler)

Denoiser = Callable[[torch.Tensor, torch.Tensor, Any], torch.Tensor]
OnStep = Callable[[int, int, torch.Tensor, torch.Tensor], None]


def make_scheduler(name: str, config: Mapping[str, Any], **overrides: Any) -> Any:
    """A fresh scheduler of kind `name` from any diffusers scheduler config."""
    if name not in _CLASSES:
        raise ValueError(f"unknown scheduler {name!r} (known: {', '.join(SCHEDULERS)})")
    extra = dict(overrides)
    if name == "dpm++":
        extra.setdefault("algorithm_type", "dpmsolver++")
    return _CLASSES[name].from_config(dict(config), **extra)


def is_sigma_space(scheduler: Any) -> bool:
    """Euler-type schedulers keep x = x0 + σ·ε (and scale the UNet input); the others
    keep x = √ᾱ·x0 + √(1−ᾱ)·ε."""
    return isinstance(scheduler, _SIGMA_SPACE)


def noise_to(scheduler: Any, x0: torch.Tensor, noise: torch.Tensor, index: int) -> torch.Tensor:
    """x0 noised to the level of step `index`'s input (index == n: x0 itself).
    `scheduler` must have had set_timesteps."""
    n = len(scheduler.timesteps)
    if index >= n:
        return x0
    if is_sigma_space(scheduler):
        sigma = scheduler.sigmas[index].to(x0.device, x0.dtype)
        return x0 + sigma * noise
    t = int(scheduler.timesteps[index])
    a = scheduler.alphas_cumprod[t].to(x0.device, x0.dtype)
    return a.sqrt() * x0 + (1 - a).sqrt() * noise


def x0_estimate(scheduler: Any, output: Any, model_output: torch.Tensor, x: torch.Tensor,
                t: torch.Tensor) -> torch.Tensor:
    """The predicted clean sample at this step: the scheduler's own where it gives one,
    else from the model output and ᾱ_t (DPM-Solver++)."""
    pred = getattr(output, "pred_original_sample", None)
    if pred is not None:
        return pred
    a = scheduler.alphas_cumprod[int(t)].to(x.device, x.dtype)
    kind = scheduler.config.get("prediction_type", "epsilon")
    if kind == "epsilon":
        return (x - (1 - a).sqrt() * model_output) / a.sqrt()
    if kind == "v_prediction":
        return a.sqrt() * x - (1 - a).sqrt() * model_output
    return model_output  # "sample"


# -----------------------------------------------------------------------------
# scheduler and RNG snapshots


def _copy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _share(value: Any, previous: Any) -> Any:
    """A copy of `value`, reusing `previous` (an earlier copy) where they are equal: the
    constant tables (betas, sigmas, ...) are stored once per timeline, not per step."""
    if isinstance(value, torch.Tensor):
        if (isinstance(previous, torch.Tensor) and previous.shape == value.shape
                and previous.dtype == value.dtype and previous.device == value.device
                and torch.equal(previous, value)):
            return previous
        return value.clone()
    if isinstance(value, list) and isinstance(previous, list) and len(previous) == len(value):
        return [_share(v, p) for v, p in zip(value, previous)]
    return _copy(value)


def scheduler_state(scheduler: Any, previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Every attribute of the scheduler but its frozen config: step index, multistep
    history (model_outputs, lower_order_nums), timesteps, sigmas, ..."""
    previous = previous or {}
    return {k: _share(v, previous.get(k)) for k, v in vars(scheduler).items()
            if k != "_internal_dict"}


def restore_scheduler(scheduler: Any, state: Mapping[str, Any]) -> None:
    for k, v in state.items():
        setattr(scheduler, k, _copy(v))  # copies: the scheduler mutates its lists


def generators(seeds: Sequence[int]) -> list[torch.Generator]:
    """One CPU generator per image: image i's noise depends only on its own seed, on
    every device."""
    return [torch.Generator("cpu").manual_seed(int(s)) for s in seeds]


def initial_noise(gens: Sequence[torch.Generator], shape: Sequence[int]) -> torch.Tensor:
    """(B, *shape) standard normal noise, row i from gens[i], on the CPU."""
    return torch.stack([torch.randn(tuple(shape), generator=g) for g in gens])


# -----------------------------------------------------------------------------
# the loop


@dataclass
class Guidance:
    cond: Any  # (B, ...) tensor or dict of them: what the denoiser conditions on
    uncond: Any = None  # the same for the unconditional / negative branch
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scale != 1.0 and self.uncond is None:
            raise ValueError("guidance other than 1 needs an unconditional input")


@dataclass
class Inpaint:
    known: torch.Tensor  # (B, C, H, W) the clean latent of the image to keep
    mask: torch.Tensor  # (B or 1, 1 or C, H, W) 1 = repaint, 0 = keep
    noise: torch.Tensor  # (B, C, H, W) noise the known part is re-noised with


@dataclass
class StepState:
    """Everything needed to resume before step `index`."""

    index: int
    latents: torch.Tensor  # x_t, the input of step `index`
    scheduler: dict[str, Any]
    rng: list[torch.Tensor]  # per-image generator states
    x0: torch.Tensor | None = None  # the previous step's x0 estimate (None at the start)


@dataclass
class Timeline:
    """States before each step run (and the final one, after the last): `states[j]` is
    before step `states[j].index`."""

    scheduler_name: str
    steps: int
    states: list[StepState] = field(default_factory=list)

    def at(self, index: int) -> StepState | None:
        for state in self.states:
            if state.index == index:
                return state
        return None

    def nbytes(self) -> int:
        seen: set[int] = set()
        total = 0

        def add(v: Any) -> None:
            nonlocal total
            if isinstance(v, torch.Tensor) and id(v) not in seen:
                seen.add(id(v))
                total += v.numel() * v.element_size()
            elif isinstance(v, (list, tuple)):
                for x in v:
                    add(x)
            elif isinstance(v, dict):
                for x in v.values():
                    add(x)

        for s in self.states:
            add([s.latents, s.scheduler, s.rng, s.x0])
        return total


@dataclass
class StoredRun:
    """A sample run kept for forks: its timeline and the filmstrip frames of its first
    image, per step (x0 previews and x_t, (H, W, C) uint8)."""

    timeline: Timeline
    x0: list[Any] = field(default_factory=list)
    xt: list[Any] = field(default_factory=list)


class TimelineStore:
    """The timelines of the last `keep` sample runs, keyed by the settings that made
    them: a fork with the same settings resumes from one instead of re-running the first
    k steps. The least recently remembered (or touched) goes first. One store for the
    built-in diffusion families and imported diffusers pipelines alike."""

    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._runs: OrderedDict[Hashable, StoredRun] = OrderedDict()

    def remember(self, key: Hashable, run: StoredRun) -> None:
        self._runs[key] = run
        self._runs.move_to_end(key)
        while len(self._runs) > self.keep:
            self._runs.popitem(last=False)

    def get(self, key: Hashable) -> StoredRun | None:
        return self._runs.get(key)

    def touch(self, key: Hashable) -> None:
        """Used again: the last to go."""
        if key in self._runs:
            self._runs.move_to_end(key)

    def nbytes(self) -> int:
        return sum(run.timeline.nbytes() for run in self._runs.values())

    def __len__(self) -> int:
        return len(self._runs)


def _cat(a: Any, b: Any) -> Any:
    if isinstance(a, dict):
        return {k: _cat(a[k], b[k]) for k in a}
    return torch.cat([a, b])


class DiffusionLoop:
    """One sampling run. Build it, `set_steps(n)`, make a `start(...)` state (or take one
    from a timeline), then `run(state, ...)`.

    `check_cancelled()` is called before every denoiser call and before `on_step`, so a
    cancel stops the loop before any further network call (the family's own decode in
    on_step must check again before its VAE call)."""

    def __init__(self, denoiser: Denoiser, scheduler: Any, scheduler_name: str = "",
                 check_cancelled: Callable[[], None] = lambda: None, eta: float = 0.0) -> None:
        self.denoiser = denoiser
        self.scheduler = scheduler
        self.scheduler_name = scheduler_name
        self.check_cancelled = check_cancelled
        params = inspect.signature(scheduler.step).parameters
        self._step_kwargs: dict[str, Any] = {"eta": float(eta)} if "eta" in params else {}
        self._takes_generator = "generator" in params

    def set_steps(self, steps: int, device: str | torch.device = "cpu") -> None:
        self.scheduler.set_timesteps(int(steps), device=device)

    @property
    def steps(self) -> int:
        return len(self.scheduler.timesteps)

    def start(self, noise: torch.Tensor, gens: Sequence[torch.Generator], index: int = 0,
              image_x0: torch.Tensor | None = None) -> StepState:
        """The state before step `index`: pure noise scaled to the first step (index 0,
        no image), or `image_x0` noised to step `index`'s level (img2img)."""
        if image_x0 is None:
            assert index == 0, "starting mid-way needs an image"
            latents = noise * self.scheduler.init_noise_sigma
        else:
            latents = noise_to(self.scheduler, image_x0, noise, index)
        if index > 0 and hasattr(self.scheduler, "set_begin_index"):
            self.scheduler.set_begin_index(index * getattr(self.scheduler, "order", 1))
        return StepState(index, latents, scheduler_state(self.scheduler),
                         [g.get_state() for g in gens])

    def _guided(self, x: torch.Tensor, t: torch.Tensor, guidance: Guidance) -> torch.Tensor:
        x_in = self.scheduler.scale_model_input(x, t)
        s = float(guidance.scale)
        self.check_cancelled()  # nothing runs after a cancel
        if s == 1.0:
            return self.denoiser(x_in, t, guidance.cond)
        if s == 0.0:
            return self.denoiser(x_in, t, guidance.uncond)
        out = self.denoiser(torch.cat([x_in, x_in]), t, _cat(guidance.uncond, guidance.cond))
        uncond, cond = out.chunk(2)
        return uncond + s * (cond - uncond)

    @torch.inference_mode()
    def run(self, state: StepState, guidance: Guidance, gens: Sequence[torch.Generator],
            stop: int | None = None, capture: bool = False, inpaint: Inpaint | None = None,
            on_step: OnStep | None = None, timeline: Timeline | None = None) -> StepState:
        """Run from `state` to step `stop` (default: the end); return the state there.
        With capture, every state on the way (and the last) is appended to `timeline`."""
        n = self.steps
        stop = n if stop is None else min(int(stop), n)
        restore_scheduler(self.scheduler, state.scheduler)
        for g, s in zip(gens, state.rng):
            g.set_state(s)
        x, x0 = state.latents, state.x0
        index = state.index
        snap = state.scheduler
        if capture and timeline is not None and timeline.at(index) is None:
            timeline.states.append(StepState(index, x, snap, [g.get_state() for g in gens], x0))
        gen_arg: Any = list(gens) if len(gens) > 1 else (gens[0] if gens else None)
        while index < stop:
            t = self.scheduler.timesteps[index]
            model_output = self._guided(x, t, guidance)
            kwargs = dict(self._step_kwargs)
            if self._takes_generator:
                kwargs["generator"] = gen_arg
            out = self.scheduler.step(model_output, t, x, return_dict=True, **kwargs)
            x0 = x0_estimate(self.scheduler, out, model_output, x, t)
            x = out.prev_sample
            if inpaint is not None:  # keep the known part, at the next step's noise level
                known = noise_to(self.scheduler, inpaint.known, inpaint.noise, index + 1)
                x = inpaint.mask * x + (1 - inpaint.mask) * known
                x0 = inpaint.mask * x0 + (1 - inpaint.mask) * inpaint.known
            index += 1
            if capture and timeline is not None:
                snap = scheduler_state(self.scheduler, snap)
                timeline.states.append(StepState(index, x, snap, [g.get_state() for g in gens], x0))
            if on_step is not None:
                self.check_cancelled()
                on_step(index - 1, n, x, x0)
        if capture and timeline is not None and timeline.states and timeline.states[-1].index == index:
            return timeline.states[-1]
        return StepState(index, x, scheduler_state(self.scheduler), [g.get_state() for g in gens], x0)
