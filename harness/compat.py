"""Which django-q2 is installed, and what differs between the versions the harness drives.

Supported: 1.9.x (PRAHO's lock) to 1.11.x; CI runs the driver's tests on 1.9.0 and 1.11.1.
Between them the code paths the driver calls — ``scheduler``, ``pusher``, ``worker``,
``monitor``/``save_task``, the ORM broker, ``Schedule.calculate_next_run`` — are identical
(``scheduler.py``, ``pusher.py`` and ``brokers/orm.py`` are byte-identical; checked by diffing the
wheels). What differs, and what the harness does about it:

* ``signals.post_execute_in_worker`` exists from 1.10: the harness observes neither version
  through it (it uses ``pre_enqueue`` and the broker).
* ``worker``/``monitor`` skip ``close_old_django_connections()`` for ``sync`` tasks from 1.10:
  the harness replaces that function in both versions (``harness.sim.patches``).
* migration ``0019`` (1.11) only changes verbose names and help texts: it changes the template
  database's key (``harness.infra.templates``), not any row the driver reads.
* 1.11 prunes stale stat keys in the broker cache and tolerates a missing ``SECRET_KEY``:
  neither is reached in a simulation.
1.8.0 ships the same code as 1.9.0 (only ``__version__`` differs) but is not tested here.
"""

from __future__ import annotations

SUPPORTED = ((1, 9), (1, 11))
"""The oldest and newest (major, minor) the harness is tested with."""


def django_q_version() -> str:
    """The installed django-q2's version string (``"1.9.0"``)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("django-q2")
    except PackageNotFoundError:  # a vendored or renamed copy: ask the module itself
        import django_q

        return ".".join(str(part) for part in django_q.VERSION)


def supported(text: str | None = None) -> bool:
    """Whether a django-q2 version (default: the installed one) is in the tested range."""
    parts = (text or django_q_version()).split(".")
    try:
        minor = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        return False
    return SUPPORTED[0] <= minor <= SUPPORTED[1]
