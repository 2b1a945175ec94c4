"""Errors the harness reports as one line and exit code 2 (bad input, missing prerequisite)."""

from __future__ import annotations


class HarnessError(Exception):
    """Bad input or a missing prerequisite; the CLI prints ``str(exc)`` and exits 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what CI runners and container stops send), raised where Ctrl+C would be, so a
    run ends the same way: what it has so far is written, marked partial, and the run database
    is dropped. The CLI installs the handler (:func:`harness.cli.main`)."""


class RunInterrupted(KeyboardInterrupt):
    """A replay stopped by Ctrl+C or SIGTERM, carrying what it had judged so far.

    A ``KeyboardInterrupt`` still (pytest and other callers stop as they would), with the
    partial :class:`~harness.run.result.RunResult` for whoever writes the outputs."""

    def __init__(self, result: object, signal: str) -> None:
        super().__init__(signal)
        self.result = result
        self.signal = signal

    @property
    def exit_code(self) -> int:
        return 143 if self.signal == "SIGTERM" else 130
