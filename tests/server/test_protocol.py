"""Protocol v1 round trips through the real server on loopback: submit, stream, cancel,
latest-wins lanes, results equal to in-process ones, replay on reconnection."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

from studio.core import media
from studio.core.engine import run_sync
from studio.core.requests import Request
from studio.server import protocol
from tests.fakes import FakeModel
from tests.server.conftest import make_engine


def sample(seed: int = 3, count: int = 4) -> Request:
    return Request("fake-model", "sample", {"seed": seed, "count": count})


def in_process(request: Request):
    engine, _library = make_engine(synchronous=True)
    return run_sync(engine, request)


def test_models_lists_the_servers_models(server, raw_clients):
    thread, _clients = server
    client = raw_clients(thread.url)
    data = client.http.get("/v1/models").json()
    assert data["protocol"] == 1
    assert [m["id"] for m in data["models"]] == ["fake-model", "fake-gan"]
    assert data["models"][0]["family"] == "fake" and data["models"][0]["card"]["resolution"] == 8


def test_a_job_streams_its_events_and_its_result_equals_the_in_process_one(server, raw_clients, tmp_path):
    thread, _clients = server
    FakeModel.step_delay = 0.06  # previews are rate-limited to one per 50 ms
    client = raw_clients(thread.url)
    assert client.hello["event"] == "hello" and not client.hello["resumed"]
    job_id = client.submit(sample())
    messages = client.events_until(job_id)
    events = [m[1] if isinstance(m, tuple) else m["event"] for m in messages]
    texts = [m for m in messages if isinstance(m, dict)]
    assert texts[0] == {"event": "queued", "job": job_id, "lane": "default",
                        "label": "sample · fake-model"}
    assert [m["event"] for m in texts][1] == "started" and texts[-1]["event"] == "finished"
    assert any(m["event"] == "progress" and m["fraction"] == 1.0 for m in texts)
    previews = [m for m in messages if isinstance(m, tuple)]
    assert previews and all(job == job_id for job, _ in previews)
    assert previews[-1][1].shape[1:] == (8, 8, 1) and previews[-1][1].dtype == np.uint8
    assert len(events) == len(messages)

    expected = in_process(sample())
    finished = texts[-1]  # a binary frame: the event's header, the result as its payload
    assert {k: finished[k] for k in ("event", "job", "lane", "count")} == {
        "event": "finished", "job": job_id, "lane": "default", "count": 4}
    assert finished["arrays"] == {"images": {"dtype": "|u1", "shape": [4, 8, 8, 1]},
                                  "latents": {"dtype": "<f4", "shape": [4, 4, 2, 2]}}
    pushed = protocol.result_from_frame(finished, memoryview(finished["payload"]), sample())
    assert np.array_equal(pushed.images, expected.images)
    assert np.array_equal(pushed.latents, expected.latents)
    assert pushed.request.same_recipe(expected.request)  # the checked params, defaults in
    assert pushed.timings["run"] > 0 and pushed.rendered_on == expected.rendered_on
    state = client.http.get(f"/v1/jobs/{job_id}").json()
    assert state["state"] == "done" and state["shape"] == [4, 8, 8, 1]
    result = protocol.result_from_json(client.http.get(f"/v1/jobs/{job_id}/result").content)
    assert np.array_equal(result.images, expected.images)
    assert np.array_equal(result.latents, expected.latents)
    assert result.request.same_recipe(expected.request)  # the defaults filled in, as locally

    png = client.http.get(f"/v1/jobs/{job_id}/result.png")
    assert png.headers["content-type"] == "image/png"
    path = tmp_path / "result.png"
    path.write_bytes(png.content)
    recipe, parameters = media.read_png_recipe(path)
    assert Request.from_recipe(recipe).same_recipe(expected.request)
    assert "Seed: 3" in parameters
    assert np.array_equal(media.read_png_pixels(path)[..., 0],
                          media.grid(list(expected.images))[..., 0])

    latents = np.load(io.BytesIO(client.http.get(f"/v1/jobs/{job_id}/latents.npy").content),
                      allow_pickle=False)
    assert np.array_equal(latents, expected.latents)


def test_extras_with_arrays_travel_intact(server, raw_clients):
    thread, _clients = server
    client = raw_clients(thread.url)
    request = Request("fake-model", "map", {"seed": 2, "size": 3, "extent": 1.5})
    job_id = client.submit(request)
    assert client.events_until(job_id)[-1]["event"] == "finished"
    result = protocol.result_from_json(client.http.get(f"/v1/jobs/{job_id}/result").content)
    expected = in_process(request)
    assert np.array_equal(result.images, expected.images)
    assert np.array_equal(result.extras["center"], expected.extras["center"])
    assert result.extras["size"] == 3 and result.columns == 3


def test_delete_cancels_a_running_job(server, raw_clients):
    thread, _clients = server
    FakeModel.gate = threading.Event()
    client = raw_clients(thread.url)
    job_id = client.submit(sample())
    client.events_until(job_id, ends=("started",))
    answer = client.http.delete(f"/v1/jobs/{job_id}")
    assert answer.status_code == 200
    FakeModel.gate.set()
    assert client.events_until(job_id)[-1]["event"] == "cancelled"
    assert client.http.get(f"/v1/jobs/{job_id}").json()["state"] == "cancelled"
    assert client.http.get(f"/v1/jobs/{job_id}/result").status_code == 409


def test_latest_wins_drops_only_the_clients_own_superseded_requests(server, raw_clients):
    thread, _clients = server
    FakeModel.gate = threading.Event()
    a, b = raw_clients(thread.url), raw_clients(thread.url)
    blocker = a.submit(sample(seed=1))
    a.events_until(blocker, ends=("started",))
    first = a.submit(sample(seed=10), lane="scrub", latest_wins=1)
    other = b.submit(sample(seed=20), lane="scrub", latest_wins=1)
    second = a.submit(sample(seed=11), lane="scrub", latest_wins=1)
    dropped = a.events_until(first)[-1]
    assert dropped == {"event": "dropped", "job": first, "lane": "scrub"}
    FakeModel.gate.set()
    assert a.events_until(second)[-1]["event"] == "finished"
    assert b.events_until(other)[-1]["event"] == "finished"  # not the other client's lane
    result = protocol.result_from_json(a.http.get(f"/v1/jobs/{second}/result").content)
    assert result.request.params["seed"] == 11


def test_a_reconnecting_client_gets_the_results_that_finished_meanwhile(server, raw_clients):
    thread, _clients = server
    FakeModel.gate = threading.Event()
    client = raw_clients(thread.url)
    job_id = client.submit(sample(seed=5))
    client.events_until(job_id, ends=("started",))
    client.socket.close()  # the connection is lost while the job runs
    FakeModel.gate.set()
    again = raw_clients(thread.url, client_id=client.id)
    assert again.hello == {"event": "hello", "client": client.id, "protocol": 1, "resumed": True}
    assert again.events_until(job_id)[-1]["event"] == "finished"
    result = protocol.result_from_json(again.http.get(f"/v1/jobs/{job_id}/result").content)
    assert np.array_equal(result.images, in_process(sample(seed=5)).images)


def test_a_malformed_finished_frame_is_refused_not_misread():
    result = in_process(sample())
    frame = protocol.finished_frame(7, "default", result)
    header, payload = protocol.read_binary_frame(frame)
    again = protocol.result_from_frame(header, payload, sample())
    assert np.array_equal(again.images, result.images) and again.images.flags.writeable
    with pytest.raises(protocol.ProtocolError, match="do not fit"):
        protocol.result_from_frame(header, payload[:-1], sample())
    with pytest.raises(protocol.ProtocolError, match="not allowed"):
        bad = {**header, "arrays": {"images": {"dtype": "|O", "shape": [1]}, "latents": None}}
        protocol.result_from_frame(bad, payload, sample())
    with pytest.raises(protocol.ProtocolError, match="malformed binary frame"):
        protocol.read_binary_frame(b"\x00\x00\x00\x09{not json")
