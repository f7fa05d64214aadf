"""Torch on one thread.

Torch's intra-op threads fight over a small, busy CPU (a 40-step tiny run took 7x longer with 2
threads than with 1 on the 2-core development machine), so these tests use one thread.
"""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
