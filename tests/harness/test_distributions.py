"""harness.distributions: quantiles as PostgreSQL's percentile_cont computes them, the inverse
CDF between them, and the file read back to what was written."""

from __future__ import annotations

import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.distributions import KEYS, PROBS, QUANTILES, Distribution, format_file, read_file

seconds = st.lists(
    st.floats(min_value=0, max_value=86_400, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=200,
)


def test_quantiles_interpolate_between_order_statistics():
    values = [float(v) for v in range(1, 102)]  # 1 … 101
    dist = Distribution.of(values)
    assert dist.points == (1.0, 2.0, 6.0, 11.0, 26.0, 51.0, 76.0, 91.0, 96.0, 100.0, 101.0)
    expected = statistics.quantiles([3.0, 1.0, 7.5], n=100, method="inclusive")
    assert Distribution.of([3.0, 1.0, 7.5]).points[1:-1] == tuple(
        round(expected[round(q * 100) - 1], 6) for q in QUANTILES
    )


def test_the_inverse_cdf_passes_through_every_quantile_and_is_linear_between():
    dist = Distribution.of([float(v) for v in range(1, 102)])
    for p, value in zip(PROBS, dist.points, strict=True):
        assert dist.at(p) == pytest.approx(value)
    assert dist.at(0.375) == pytest.approx((26.0 + 51.0) / 2)  # halfway from p25 to p50


@given(seconds, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_draws_stay_between_min_and_max_and_grow_with_the_probability(values, u, v):
    dist = Distribution.of(values)
    lo, hi = sorted((u, v))
    assert min(values) - 1e-6 <= dist.at(lo) <= dist.at(hi) <= max(values) + 1e-6


@given(st.dictionaries(st.from_regex(r"[a-z]\w{0,8}(\.[a-z]\w{0,8}){1,3}", fullmatch=True),
                       seconds, min_size=1, max_size=5))  # fmt: skip
def test_what_is_written_reads_back(functions):
    dists = {
        func: Distribution.of(values, failed=len(values) // 3) for func, values in functions.items()
    }
    text = format_file(dists, ["a header"], {"from": 'C:\\path "quoted"', "rows": 3})
    assert read_file(text) == dists


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda t: t.replace("format = 1", "format = 2"), "format: expected 1"),
        (lambda t: t.replace("count = 3", "count = 0"), ".count: expected at least 1"),
        (lambda t: t.replace("failed = 0", "failed = -1"), ".failed: expected a whole number"),
        (lambda t: t.replace("p50 = 2.0", "p50 = 0.5"), ".p50: 0.5 is below the value before"),
        (lambda t: t.replace("max = 3.0", 'max = "3s"'), ".max: expected seconds"),
        (lambda t: t.replace("p99 = ", "p98 = "), ".p98: unknown key"),
        (lambda t: t + "\nextra = 1\n", "extra: unknown key"),
        (lambda t: t.split("[functions")[0], "functions: no"),
    ],
)
def test_a_malformed_file_names_the_key(edit, reason):
    text = format_file({"a.b": Distribution.of([1.0, 2.0, 3.0])}, [], {})
    assert len(KEYS) == 11 and read_file(text)["a.b"].count == 3
    with pytest.raises(ValueError, match=None) as caught:
        read_file(edit(text))
    assert reason in str(caught.value)


def test_any_function_name_survives_the_file():
    name = 'odd.na"me\\with\x7f\x01é𐀀'
    dists = {name: Distribution.of([0.5])}
    assert read_file(format_file(dists, [], {"from": name})) == dists
