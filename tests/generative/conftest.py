"""Fixtures shared by the generative tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Torch on one intra-op thread for the test: the machine's two cores are shared, and tiny convolutions
    run an order of magnitude faster without intra-op threads."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
