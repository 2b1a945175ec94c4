"""Errors the harness reports as one line, and the exit codes, in one place.

=====  ==================================================================================
code   meaning
=====  ==================================================================================
0      every check holds (gate: and every timeline matches its golden)
1      a check failed (gate: or a timeline diverged; diff: the second run is worse)
2      bad input or a missing prerequisite (:class:`HarnessError`): one line, nothing written
3      the project's own code crashed outside a task (:class:`UserCodeError`): a setup step,
       a ``post_migrate`` handler, a ``ready()`` redone at the virtual start, the settings
       module — ``SystemExit`` from it included; one line, nothing written
125    with ``--bisect-exit``, instead of 2 or 3: git bisect's "cannot test this commit"
130    interrupted by Ctrl+C (SIGINT); what the run had is written, marked partial
143    stopped by SIGTERM; the same
=====  ==================================================================================
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_USER_CODE = 0, 1, 2, 3
EXIT_BISECT_SKIP, EXIT_SIGINT, EXIT_SIGTERM = 125, 130, 143


class HarnessError(Exception):
    """Bad input or a missing prerequisite; the CLI prints ``str(exc)`` and exits 2."""

    exit_code = EXIT_BAD_INPUT


class ScenarioError(HarnessError):
    """A scenario (or its ``[expect]`` tables) is malformed: one line naming the file, the key
    path and the reason."""

    def __init__(self, source: str, where: str, reason: str) -> None:
        self.source, self.where, self.reason = source, where, reason
        super().__init__(f"{source}: {where}: {reason}" if where else f"{source}: {reason}")


class HarnessDeprecation(FutureWarning):
    """An old spelling (a TOML key, a flag, a keyword) still read for one release; the message
    is one line naming the new spelling. A ``FutureWarning``: shown to users by default."""


class UserCodeError(HarnessError):
    """The project's own code raised (or exited) outside a task; the CLI prints one line, 3."""

    exit_code = EXIT_USER_CODE


def one_line(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` on one line (a ``SystemExit`` says so, with its code)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r}): the code called sys.exit()"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:limit] if text else type(exc).__name__


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
        return EXIT_SIGTERM if self.signal == "SIGTERM" else EXIT_SIGINT
