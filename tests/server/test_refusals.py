"""What the server refuses: calls without the token or with a wrong one, oversized and
malformed requests, parameters out of the op's spec, unknown clients; and `studio serve`
refusing to bind past loopback without a token."""

from __future__ import annotations

import json

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from studio.cli import main
from studio.core.requests import Request
from studio.server.serve import ServeError, read_token
from tests.server.conftest import TOKEN

SAMPLE = Request("fake-model", "sample", {"seed": 1, "count": 2})


def test_calls_without_the_token_or_with_a_wrong_one_are_refused(token_server, raw_clients):
    for headers in ({}, {"Authorization": "Bearer wrong-token-of-32-characters-xxx"},
                    {"Authorization": TOKEN}):
        response = httpx.get(f"{token_server.url}/v1/models", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"error": "a valid Bearer token is required"}
        with pytest.raises(InvalidStatus) as refused:
            connect("ws" + token_server.url[4:] + "/v1/events", additional_headers=headers,
                    legacy=True)
        assert refused.value.response.status_code == 403
    # with the token, the same calls go through
    client = raw_clients(token_server.url, token=TOKEN)
    assert client.http.get("/v1/models").status_code == 200
    job_id = client.submit(SAMPLE)
    assert client.events_until(job_id)[-1]["event"] == "finished"


def test_oversized_and_malformed_requests_are_refused(token_server, raw_clients):
    client = raw_clients(token_server.url, token=TOKEN)
    big = Request("fake-model", "decode", {}, {"latent": __import__("numpy").zeros(40_000, "f4")})
    cases = [
        (big.to_json().encode(), 413, "over 65536 bytes"),
        (b"{not json", 400, "not valid JSON"),
        (b"\xff\xfe", 400, "not valid JSON"),
        (json.dumps({"model_id": "fake-model"}).encode(), 400, "not a Latent Studio recipe"),
        (json.dumps({**SAMPLE.to_recipe(), "model_id": "../etc/passwd"}).encode(), 400, "a path"),
        (SAMPLE.with_params(count=10_000).to_json().encode(), 422, "count"),
        (SAMPLE.with_params(temperature="hot").to_json().encode(), 422, "temperature"),
        (Request("no-such-model").to_json().encode(), 422, "no-such-model"),
        (Request("fake-model", "fly").to_json().encode(), 422, "fly"),
    ]
    for body, status, words in cases:
        response = client.http.post("/v1/jobs", content=body)
        assert response.status_code == status, (body[:60], response.text)
        assert words in response.json()["error"], response.json()
    lane = client.http.post("/v1/jobs", content=SAMPLE.to_json(), params={"lane": "x" * 65})
    assert lane.status_code == 400
    assert client.http.get("/v1/jobs/999999").status_code == 404


def test_a_call_must_name_a_client_the_server_gave_out(server):
    thread, _clients = server
    for headers in ({}, {"X-Studio-Client": "made-up"}):
        response = httpx.post(f"{thread.url}/v1/jobs", content=SAMPLE.to_json(), headers=headers)
        assert response.status_code == 403
        assert "unknown client" in response.json()["error"]
    given = httpx.post(f"{thread.url}/v1/clients").json()["client"]
    response = httpx.post(f"{thread.url}/v1/jobs", content=SAMPLE.to_json(),
                          headers={"X-Studio-Client": given})
    assert response.status_code == 201


def test_binding_past_loopback_needs_a_token_file(tmp_path, capsys):
    assert read_token(None, "127.0.0.1") is None and read_token(None, "::1") is None
    with pytest.raises(ServeError, match="needs a token"):
        read_token(None, "0.0.0.0")
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "binding to 0.0.0.0 needs a token" in capsys.readouterr().err
    short = tmp_path / "short"
    short.write_text("abc\n")
    assert main(["serve", "--host", "192.168.1.5", "--token-file", str(short)]) == 2
    assert "at least 16 characters" in capsys.readouterr().err
    assert main(["serve", "--token-file", str(tmp_path / "missing")]) == 2
    assert "cannot read the token file" in capsys.readouterr().err
    good = tmp_path / "token"
    good.write_text(TOKEN + "\n")
    assert read_token(good, "0.0.0.0") == TOKEN
    assert main(["serve", "--port", "0"]) == 2


def test_a_parameter_naming_a_path_on_the_server_is_refused(reset_fakes, tmp_path):
    # the diffusers autoencoder's `directions_folder` names a folder of images to encode:
    # the server must not read a folder a client names
    from dataclasses import replace

    from studio.core.cache import ModelCache
    from studio.core.engine import Engine, validator_for
    from studio.families.diffusers_vae.spec import DIFFUSERS_VAE
    from studio.server.serve import ServerThread
    from tests.fakes import FakeFamily, FakeLibrary, fake_card, fake_registry

    registry = fake_registry()
    registry.register(replace(DIFFUSERS_VAE, name="fake-dvae", loader="tests.fakes:FakeFamily",
                              _cache={}))
    library = FakeLibrary(fake_card("my-vae", family="fake-dvae"))
    engine = Engine(ModelCache(library, registry, device="cpu"), threads=1,
                    validate=validator_for(registry, library))
    (tmp_path / "secret.png").write_bytes(b"not for the client")
    loads = len(FakeFamily.loads)
    try:
        with ServerThread(engine, library) as thread:
            client = httpx.post(f"{thread.url}/v1/clients").json()["client"]
            request = Request("my-vae", "traverse", {"directions_folder": str(tmp_path)})
            response = httpx.post(f"{thread.url}/v1/jobs", content=request.to_json(),
                                  headers={"X-Studio-Client": client})
            assert response.status_code == 422
            assert response.json()["error"].startswith("directions_folder: names a path on "
                                                       "the server")
    finally:
        engine.shutdown()
    assert len(FakeFamily.loads) == loads  # nothing ran, nothing was read
