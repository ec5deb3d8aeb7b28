"""Fixtures the family tests share."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op thread, as the engine's worker on this 2-core machine: with two, tiny
    ops spin against each other (and any other load) and run 100× slower. A module asks
    for it with `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
