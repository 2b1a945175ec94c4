"""Model fields whose default is ``uuid.uuid4`` are seeded with the run (a replay of PRAHO
gave timelines that differed run to run: its integrity checks' ``UUIDField(default=uuid4)``
ids reach task results). The field keeps the function itself, so seeding the module misses it.
"""

from __future__ import annotations

import uuid

from django.db import models

from harness.patching import Patches
from harness.sim.patches import seed_field_defaults, seed_process


def _ids(seed: int, field: models.Field) -> list[uuid.UUID]:
    p = Patches()
    seed_process(p, seed)
    try:
        seed_field_defaults(p, _REAL_UUID4, uuid.uuid4, [field])  # the seeded one, now
        return [field.get_default() for _ in range(3)]
    finally:
        p.undo()


_REAL_UUID4 = uuid.uuid4


def test_a_uuid4_default_gives_the_same_ids_for_the_same_seed_and_is_restored():
    field = models.UUIDField(default=uuid.uuid4)
    field.get_default()  # Django caches the default's callable on first use
    first, again, other = _ids(3, field), _ids(3, field), _ids(4, field)
    assert first == again and first != other
    assert field.default is _REAL_UUID4  # restored, cache included
    assert field.__dict__.get("_get_default", _REAL_UUID4) is _REAL_UUID4
    assert field.get_default() not in first


def test_other_defaults_are_left_alone():
    field = models.CharField(default="x", max_length=3)
    p = Patches()
    seed_field_defaults(p, _REAL_UUID4, lambda: "seeded", [field])
    assert field.get_default() == "x" and not p.reasons()
