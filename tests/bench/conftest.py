"""Fixtures for the benchmark tests (helpers live in bench_helpers.py)."""

import pytest
import torch
from bench_helpers import TINY_CHECK, FakeTimer


@pytest.fixture
def fake_timer():
    return FakeTimer()


@pytest.fixture
def cpu_kwargs(fake_timer):
    return dict(device="cpu", dtype=torch.float32, timer=fake_timer, check_shape=TINY_CHECK,
                log=lambda msg: None)
