"""The wire format of `studio serve` (protocol version 1), shared by the server and the
remote engine. No Qt, no torch, no web framework: plain JSON and bytes.

- A request is the recipe JSON that PNGs and history hold (`Request.to_recipe`), inputs
  embedded as arrays; the server never reads a path a client names.
- A result (`GET /v1/jobs/{id}/result`) is JSON: the recipe, the images and latents as
  arrays in the recipe's array form, labels, columns, extras, timings, device.
- Events on `WS /v1/events` are JSON text frames `{"event": ..., "job": id, ...}`, but for
  two binary frames: 4 bytes (big-endian) of header length, a JSON header, a payload. A
  preview's header is `{"event": "preview", "job": id, "shape": [N, H, W, C]}` and its
  payload the uint8 pixels; `finished` carries the result, which saves the client a round
  trip (`GET .../result` still answers): the header holds the checked parameters, the
  result's fields and the arrays' dtype and shape (`"arrays": {"images": ..., "latents":
  ... or null}`), the payload their little-endian bytes, images first.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import replace
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


def _result_fields(result: Result) -> dict[str, Any]:
    return {
        "labels": list(result.labels),
        "columns": int(result.columns),
        "extras": _plain(dict(result.extras)),
        "timings": {k: float(v) for k, v in result.timings.items()},
        "device": result.device,
        "rendered_on": _plain(dict(result.rendered_on)),
    }


def _result(request: Request, images: np.ndarray, latents: np.ndarray | None,
            fields: Mapping[str, Any]) -> Result:
    return Result(
        request=request, images=images.astype(np.uint8, copy=False), latents=latents,
        labels=tuple(fields.get("labels", ())), columns=int(fields.get("columns", 0)),
        timings=dict(fields.get("timings", {})), extras=_unplain(fields.get("extras", {})),
        device=str(fields.get("device", "cpu")),
        rendered_on=_unplain(fields.get("rendered_on", {})),
    )


def _as_checked(request: Request, params: Any) -> Request:
    """The client's request with the parameters the server checked (every default filled
    in, as the in-process engine's request has them)."""
    if not isinstance(params, dict):
        raise ValueError("params is not an object")
    return replace(request, params=params)


def result_to_json(result: Result) -> bytes:
    """The whole result as JSON (GET /v1/jobs/{id}/result): the recipe, arrays embedded."""
    document = {
        "protocol": PROTOCOL_VERSION,
        "recipe": result.request.to_recipe(),
        "images": encode_array(result.images),
        "latents": None if result.latents is None else encode_array(np.asarray(result.latents)),
        **_result_fields(result),
    }
    return json.dumps(document).encode()


def result_from_json(body: bytes | memoryview, request: Request | None = None) -> Result:
    """The Result a server sent; `request`, when given, is the client's own (the window
    keeps its inputs), with the parameters as the server checked them."""
    try:
        document = json.loads(bytes(body))
        recipe = document["recipe"]
        request = (Request.from_recipe(recipe) if request is None
                   else _as_checked(request, recipe["params"]))
        latents = document.get("latents")
        return _result(request, decode_array(document["images"]),
                       None if latents is None else decode_array(latents), document)
    except (KeyError, TypeError, ValueError, AssertionError) as exc:
        raise ProtocolError(f"the server sent a malformed result ({exc})") from None


def finished_frame(job: int, lane: str, result: Result) -> bytes:
    """The `finished` event with its result, for the client that asked: the checked
    parameters and the result's fields in the header, the arrays' raw bytes after it
    (the client has the request's inputs; base64 and the recipe would cost ~1 ms here)."""
    images = np.ascontiguousarray(result.images)
    latents = None if result.latents is None else np.ascontiguousarray(result.latents)
    arrays = {"images": _layout(images), "latents": None if latents is None else _layout(latents)}
    header = {"event": "finished", "job": job, "lane": lane, "count": result.count,
              "params": dict(result.request.params), "arrays": arrays, **_result_fields(result)}
    payload = images.tobytes() + (b"" if latents is None else _little(latents).tobytes())
    return binary_frame(header, payload)


def _little(array: np.ndarray) -> np.ndarray:
    return array.astype(array.dtype.newbyteorder("<"), copy=False)


def _layout(array: np.ndarray) -> dict[str, Any]:
    if array.dtype.kind not in "uifb":
        raise ProtocolError(f"cannot send an array of dtype {array.dtype}")
    return {"dtype": _little(array).dtype.str, "shape": list(array.shape)}


def result_from_frame(header: Mapping[str, Any], payload: memoryview, request: Request) -> Result:
    """The Result a `finished` frame carries, for the client's own `request`."""
    try:
        offset, arrays = 0, {}
        for name in ("images", "latents"):
            layout = header["arrays"].get(name)
            if layout is None:
                arrays[name] = None
                continue
            dtype = np.dtype(layout["dtype"])
            if dtype.kind not in "uifb" or dtype.hasobject:
                raise ValueError(f"array dtype {dtype} is not allowed")
            shape = tuple(int(n) for n in layout["shape"])
            size = int(np.prod(shape)) * dtype.itemsize
            if offset + size > len(payload):
                raise ValueError(f"the {name} do not fit the frame")
            raw = np.frombuffer(payload[offset:offset + size], dtype=dtype).reshape(shape)
            arrays[name] = raw.astype(dtype.newbyteorder("="))  # a copy: writable, native
            offset += size
        return _result(_as_checked(request, header["params"]), arrays["images"],
                       arrays["latents"], header)
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError) as exc:
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
