"""The ``harness`` command line.

Every subcommand follows one contract (the codes are listed once, in :mod:`harness.errors`):
exit 0 when all is well, 1 when a check fails, 2 on bad input or a missing prerequisite, 3 when
the project's own code crashed outside a task — with a one-line reason on stderr and nothing
written — and 130/143 when interrupted.
Subcommands live in their own modules and register here with :func:`_register`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import warnings
from collections.abc import Callable, Sequence

from harness.errors import (
    EXIT_BISECT_SKIP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    HarnessDeprecation,
    HarnessError,
    Terminated,
)

_show_warning = warnings.showwarning

Handler = Callable[[argparse.Namespace], int]


def _one_line_warning(message: Warning | str, category: type[Warning], *rest: object,
                      **kw: object) -> None:  # fmt: skip
    """Our deprecations as one line on stderr (other warnings as Python shows them)."""
    if issubclass(category, HarnessDeprecation):
        sys.stderr.write(f"harness: warning: {message}\n")
    else:
        _show_warning(message, category, *rest, **kw)  # type: ignore[arg-type]


class _Parser(argparse.ArgumentParser):
    """argparse, but its usage errors are one line (plus the usage) and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message}\n")


def _cmd_db(args: argparse.Namespace) -> int:
    from harness.infra.database import resolve

    found = resolve()
    if args.url:
        s = found.settings
        host = s["HOST"]
        if host.startswith("/"):  # a socket directory: percent-encoded, as libpq reads it
            from urllib.parse import quote

            print(f"postgresql://{s['USER']}@{quote(host, safe='')}:{s['PORT']}/{s['NAME']}")
        else:
            print(f"postgresql://{s['USER']}@{host}:{s['PORT']}/{s['NAME']}")
    else:
        print(f"{found.source}: {found.description}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="harness", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    db = sub.add_parser(
        "db",
        help="show which PostgreSQL the harness uses (starts the embedded one)",
    )
    db.add_argument("--url", action="store_true", help="print a connection URL instead")
    db.set_defaults(handler=_cmd_db)

    for register in _REGISTRY:
        register(sub)
    return parser


_REGISTRY: list[Callable[[argparse._SubParsersAction], None]] = []


def _register(fn: Callable[[argparse._SubParsersAction], None]) -> None:
    _REGISTRY.append(fn)


def _load_subcommands() -> None:
    """Subcommand modules add themselves to the parser (keeps this file small)."""
    import importlib

    for name in _SUBCOMMAND_MODULES:
        module = importlib.import_module(name)
        _register(module.register)


_SUBCOMMAND_MODULES: list[str] = [
    "harness.cli.replay",
    "harness.cli.judge",
    "harness.cli.scenarios",
    "harness.cli.explore",
    "harness.cli.fakes",
    "harness.cli.sweep",
    "harness.cli.compare",
    "harness.cli.durations",
]
"""A new command is a module with ``register(sub)`` listed here."""


HASH_SEED = "0"
"""``PYTHONHASHSEED`` of a ``harness`` command whose environment sets none."""


def _with_a_fixed_hash_seed() -> None:
    """Run this command again, once, with ``PYTHONHASHSEED`` fixed, unless the user set one.

    Python salts ``str`` hashes per process, so project code that iterates a set of strings
    (PRAHO's reconcile task walks a set of service ids) enqueues in another order on every run;
    the same scenario and seed give the same timeline bytes only with one salt. ``exec`` keeps
    the pid, so a parent's signals still reach the command."""
    if "PYTHONHASHSEED" in os.environ or os.name != "posix" or not sys.executable:
        return
    flags = [f"-W{w}" for w in sys.warnoptions]
    flags += [f"-X{k}" if v is True else f"-X{k}={v}" for k, v in sys._xoptions.items()]
    argv = [sys.executable, *flags, "-m", "harness.cli", *sys.argv[1:]]
    with contextlib.suppress(OSError):  # cannot run again: this process goes on, salted
        os.execve(sys.executable, argv, {**os.environ, "PYTHONHASHSEED": HASH_SEED})


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the `harness` command itself, not a caller's main([...])
        _with_a_fixed_hash_seed()
    # The current directory is the project root, first on sys.path as it is for manage.py (a
    # console script only has its own bin/ there, so `config.settings` would not resolve).
    from harness.run.project import add_paths

    add_paths(None)
    _REGISTRY.clear()
    _load_subcommands()
    with warnings.catch_warnings():
        warnings.simplefilter("default", HarnessDeprecation)
        warnings.showwarning = _one_line_warning
        return _run(build_parser().parse_args(argv))


def _run(args: argparse.Namespace) -> int:
    previous = signal.signal(signal.SIGTERM, _terminate)
    bisect = getattr(args, "bisect_exit", False)
    try:
        return int(args.handler(args) or 0)
    except HarnessError as exc:
        sys.stderr.write(f"harness: error: {exc}\n")
        return EXIT_BISECT_SKIP if bisect else exc.exit_code
    except Exception as exc:
        if not bisect:
            raise
        # Under git bisect run a commit where the replay cannot even run is skipped, not "bad".
        sys.stderr.write(f"harness: cannot replay here: {type(exc).__name__}: {exc}\n")
        return EXIT_BISECT_SKIP
    except KeyboardInterrupt as exc:
        name = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT"
        sys.stderr.write(f"harness: interrupted ({name})\n")
        return EXIT_SIGTERM if name == "SIGTERM" else EXIT_SIGINT
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends a command the way Ctrl+C does (partial outputs, run database dropped)."""
    raise Terminated()
