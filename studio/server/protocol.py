"""The wire format of `studio serve` (protocol version 1), shared by the server and the
remote engine. No Qt, no torch, no web framework: plain JSON and bytes.

- A request is the recipe JSON that PNGs and history hold (`Request.to_recipe`), inputs
  embedded as arrays; the server never reads a path a client names.
- A result (`GET /v1/jobs/{id}/result`) is JSON: the recipe, the images and latents as
  arrays in the recipe's array form, labels, columns, extras, timings, device.
- Events on `WS /v1/events` are JSON text frames `{"event": ..., "job": id, ...}`, but for
  two binary frames: 4 bytes (big-endian) of header length, a JSON header, a payload. A
  preview's header is `{"event": "preview", "job": id, "shape": [N, H, W, C]}` and its
  payload the uint8 pixels; `finished` carries the result (the JSON above) as its payload,
  which saves the client a round trip (`GET .../result` still answers).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from studio.core.requests import RecipeError, Request, Result, decode_array, encode_array

PROTOCOL_VERSION = 1
PREFIX = f"/v{PROTOCOL_VERSION}"
CLIENT_HEADER = "x-studio-client"  # the client id a connection was given
DEFAULT_PORT = 7860
MAX_LANE = 64  # characters in a lane name

# events a client receives (the engine's names)
EVENTS = ("hello", "queued", "started", "progress", "preview", "finished", "failed",
          "cancelled", "dropped")

_ARRAY = "__array__"  # marks an array inside extras
_HEADER = struct.Struct(">I")


class ProtocolError(ValueError):
    """A message that does not follow the protocol; the text says what is wrong."""


# -- requests ---------------------------------------------------------------------------
def request_from_body(body: bytes) -> Request:
    """A Request from a POST body (recipe JSON); the client's device is ignored, since
    the server renders on its own."""
    try:
        recipe = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"the request is not valid JSON ({exc})") from None
    try:
        request = Request.from_recipe(recipe)
    except RecipeError as exc:
        raise ProtocolError(str(exc)) from None
    return Request(request.model_id, request.op, request.params, request.inputs)


def request_body(request: Request) -> bytes:
    recipe = request.to_recipe()
    recipe.pop("device", None)
    return json.dumps(recipe).encode()


# -- results ----------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    """A JSON-able copy of an extras value: arrays marked, numpy scalars as numbers."""
    if isinstance(value, np.ndarray):
        return {_ARRAY: encode_array(value)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def _unplain(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            return decode_array(value[_ARRAY])
        return {k: _unplain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unplain(v) for v in value]
    return value


def result_to_json(result: Result) -> bytes:
    recipe = result.request.to_recipe()
    document = {
        "protocol": PROTOCOL_VERSION,
        "recipe": recipe,
        "images": encode_array(result.images),
        "latents": None if result.latents is None else encode_array(np.asarray(result.latents)),
        "labels": list(result.labels),
        "columns": int(result.columns),
        "extras": _plain(dict(result.extras)),
        "timings": {k: float(v) for k, v in result.timings.items()},
        "device": result.device,
        "rendered_on": _plain(dict(result.rendered_on)),
    }
    return json.dumps(document).encode()


def result_from_json(body: bytes | memoryview, request: Request | None = None) -> Result:
    """The Result a server sent; `request`, when given, is the client's own (the same
    recipe, so the window keeps the object it submitted)."""
    try:
        document = json.loads(bytes(body))
        if request is None:
            request = Request.from_recipe(document["recipe"])
        latents = document.get("latents")
        return Result(
            request=request,
            images=decode_array(document["images"]).astype(np.uint8, copy=False),
            latents=None if latents is None else decode_array(latents),
            labels=tuple(document.get("labels", ())),
            columns=int(document.get("columns", 0)),
            timings=dict(document.get("timings", {})),
            extras=_unplain(document.get("extras", {})),
            device=str(document.get("device", "cpu")),
            rendered_on=_unplain(document.get("rendered_on", {})),
        )
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise ProtocolError(f"the server sent a malformed result ({exc})") from None


# -- events -----------------------------------------------------------------------------
def event_text(event: str, job: int, **fields: Any) -> str:
    return json.dumps({"event": event, "job": job, **fields})


def binary_frame(header: Mapping[str, Any], payload: bytes) -> bytes:
    encoded = json.dumps(dict(header)).encode()
    return _HEADER.pack(len(encoded)) + encoded + payload


def read_binary_frame(frame: bytes) -> tuple[dict[str, Any], memoryview]:
    """(header, payload) of a binary frame."""
    try:
        (length,) = _HEADER.unpack_from(frame)
        header = json.loads(frame[_HEADER.size:_HEADER.size + length])
        if not isinstance(header, dict):
            raise ValueError("the header is not an object")
        return header, memoryview(frame)[_HEADER.size + length:]
    except (struct.error, TypeError, ValueError) as exc:
        raise ProtocolError(f"a malformed binary frame ({exc})") from None


def preview_frame(job: int, images: np.ndarray) -> bytes:
    images = np.ascontiguousarray(images, dtype=np.uint8)
    header = {"event": "preview", "job": job, "shape": list(images.shape)}
    return binary_frame(header, images.tobytes())


def preview_images(header: Mapping[str, Any], payload: memoryview) -> np.ndarray:
    try:
        shape = tuple(int(n) for n in header["shape"])
        return np.frombuffer(payload, np.uint8).reshape(shape)
    except (KeyError, TypeError, ValueError) as exc:
        raise ProtocolError(f"a malformed preview frame ({exc})") from None


def read_preview_frame(frame: bytes) -> tuple[int, np.ndarray]:
    """(job id, uint8 images) from a binary preview frame."""
    header, payload = read_binary_frame(frame)
    return int(header.get("job", 0)), preview_images(header, payload)
