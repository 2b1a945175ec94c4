"""The simulation's private core: the driver behind :class:`harness.sim.simulation.Simulation`.

* :mod:`.driver` — the step loop and what it owns: the event queues, the task book, the
  dry-pull state, the broker's strategy, the timeline's writer;
* :mod:`.agenda` — the event queues (attempts' virtual ends, injected arrivals);
* :mod:`.dry` — when a pull would be an empty round trip, and so is skipped;
* :mod:`.lookahead` — when something can next happen (one round trip a step);
* :mod:`.processes` — django-q2's four processes of a cluster, given :class:`.services.Services`
  (exactly what they need of the run, nothing of the Simulation);
* :mod:`.recorder` — the task book, rows a migration left, the fakes' ledger into the timeline.

Only the facade (``harness.sim.simulation``) imports this package; nothing in it imports the
facade (both checked by ``tests/harness/test_walls.py``).
"""
