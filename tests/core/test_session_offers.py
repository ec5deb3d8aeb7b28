"""The window reaches explorers only through the session (issue 12): a Generate or an
opened image is *offered* and a subscriber may take it; a live edit and an endpoint are
announced, and nobody is called directly."""

from __future__ import annotations

import numpy as np

from studio.core.session import Session
from tests.fakes import fake_registry


def vae_session() -> Session:
    session = Session(fake_registry(), family_of=lambda model_id: "fake")
    session.select_model("fake-model")
    return session


def test_an_offer_nobody_takes_falls_to_the_default_and_the_first_taker_wins():
    session = vae_session()
    assert session.offer_generate() is False  # no subscriber: the window runs the request
    seen = []
    session.events.generate_offered.connect(lambda claim: (seen.append("first"), claim.take()))
    session.events.generate_offered.connect(
        lambda claim: seen.append("second saw it taken" if claim.taken else "second took it"))
    assert session.offer_generate() is True
    assert seen == ["first", "second saw it taken"]


def test_an_opened_image_is_offered_with_its_path():
    session = vae_session()
    image = np.zeros((8, 8, 1), np.uint8)
    offered = []
    session.events.image_offered.connect(lambda claim, img, path: offered.append((img, path)))
    assert session.offer_image(image, "/photos/cat.png") is False  # seen, not taken
    assert offered[0][0] is image and offered[0][1] == "/photos/cat.png"


def test_a_live_edit_names_the_current_op_and_the_parameter():
    session = vae_session()
    session.set_view("traverse")
    heard = []
    session.events.live_edited.connect(lambda op, name: heard.append((op, name)))
    session.live_edit("scale")
    assert heard == [("traverse", "scale")]


def test_an_endpoint_keeps_its_image_for_the_well_and_its_latent_for_the_request():
    session = vae_session()
    changed = []
    session.events.inputs_changed.connect(changed.append)
    image, latent = np.ones((8, 8, 1), np.uint8), np.arange(4, dtype=np.float32)
    session.set_endpoint("a", image, latent)
    assert changed == ["latent_a", "image_a"]
    inputs = session.inputs_for("interpolate")
    assert np.array_equal(inputs["latent_a"], latent) and "image_a" not in inputs  # latent wins
    session.set_endpoint("b", image, None)  # an image the model encodes itself
    assert "image_b" in session.inputs_for("interpolate") and "latent_b" not in session.inputs
