"""companion.checks: the shared argument checks every module uses."""

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from companion import checks


@given(st.integers(min_value=0, max_value=2**63 - 1))
def test_seed_accepts_every_integer_in_range(value):
    assert checks.seed(value) == value


@given(st.one_of(st.integers(max_value=-1), st.integers(min_value=2**63), st.floats(), st.booleans(),
                 st.text(max_size=3)))
def test_seed_rejects_everything_else_naming_the_parameter(value):
    with pytest.raises(ValueError, match=r"^rng_seed must be an integer in \[0, 2\*\*63\), got "):
        checks.seed(value, "rng_seed")


@given(st.integers(min_value=-5, max_value=5), st.integers(min_value=-3, max_value=3))
def test_integer_keeps_its_minimum(value, minimum):
    if value >= minimum:
        assert checks.integer(value, "n", minimum=minimum) == value
    else:
        with pytest.raises(ValueError, match=rf"^n must be an integer >= {minimum}, got {value}$"):
            checks.integer(value, "n", minimum=minimum)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_real_accepts_finite_numbers_only(value):
    if math.isfinite(value):
        assert checks.real(value, "x") == value
    else:
        with pytest.raises(ValueError, match=r"^x must be a finite number, got "):
            checks.real(value, "x")


def test_finite_names_the_first_bad_value():
    x = torch.tensor([[0.0, 1.0], [float("nan"), float("inf")]])
    with pytest.raises(ValueError, match=r"^logits must be finite, got nan at index \(1, 0\)$"):
        checks.finite(x, "logits")
    assert torch.equal(checks.finite(x[0], "logits"), x[0])


def test_torch_generator_points_an_int_to_a_seed():
    assert checks.torch_generator(None) is None
    g = torch.Generator()
    assert checks.torch_generator(g) is g
    with pytest.raises(TypeError, match=r"generator must be a torch.Generator or None, got int \(for a seed"):
        checks.torch_generator(42)
