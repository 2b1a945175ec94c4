"""Pure helpers of the benchmarks: percentiles, latency samples, pickles, grids."""

from __future__ import annotations

import math

import pytest

from benchmarks import benchdb, grid


def test_percentiles_interpolate_between_ranks() -> None:
    p = benchdb.percentiles(range(1, 101))
    assert p == {"p50": 50.5, "p95": pytest.approx(95.05), "p99": pytest.approx(99.01)}
    assert benchdb.percentiles([7.0]) == {"p50": 7.0, "p95": 7.0, "p99": 7.0}
    assert all(math.isnan(v) for v in benchdb.percentiles([]).values())


def test_latency_from_enqueue_or_from_a_common_origin() -> None:
    saved = [benchdb.Saved(enqueued=10.0, started=10.1, stopped=10.2, saved=10.5)]
    assert benchdb.latency_samples(saved) == [pytest.approx((100.0, 500.0))]
    assert benchdb.latency_samples(saved, since=9.0) == [pytest.approx((1100.0, 1500.0))]
    assert benchdb.latency_ms(saved)["saved"]["p99"] == pytest.approx(500.0)


def test_pickled_round_trips_like_picklefield() -> None:
    from picklefield.fields import dbsafe_decode

    value = (1, {"a": 2.5})
    assert benchdb.decode_result(benchdb.pickled(value)) == value
    assert dbsafe_decode(benchdb.pickled(value)) == value  # the library's own decoder agrees
    assert benchdb.decode_result(None) is None


def test_default_grid_moves_one_knob_at_a_time_from_the_reference() -> None:
    ref = grid.REFERENCE
    cfgs = grid.drain_grid("default")
    assert cfgs[0] == ref
    fields = ("broker", "workers", "bulk", "queue_limit", "save_limit")
    for cfg in cfgs[1:]:
        changed = [f for f in fields if getattr(cfg, f) != getattr(ref, f)]
        assert 1 <= len(changed) <= 2, cfg  # redis-s0 changes broker and save_limit
    assert len({c.id for c in grid.drain_grid("full")}) == 48


def test_overrides_switch_broker() -> None:
    orm = grid.REFERENCE.q_cluster("n", "redis://r")
    assert orm["orm"] == "default" and orm["redis"] is None and orm["save_limit"] == 1000
    red = grid.ClusterConfig("redis", 2, 10, 100, 0).q_cluster("n", "redis://r")
    assert red["orm"] is None and red["redis"] == "redis://r" and red["name"] == "n"


def test_unknown_grid_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown benchmark grid 'huge'"):
        grid.drain_grid("huge")
