"""Repository-wide pytest setup.

The harness's own fixtures come from its pytest11 plugin (``harness.pytest_plugin``); this file
only holds what is specific to testing this repository.
"""

from __future__ import annotations

import os

# The embedded server's lock lives in the runtime dir; give platformdirs one so that it does not
# warn (which would break ``-W error``) and so every process agrees on the same path.
os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
os.makedirs(os.environ["XDG_RUNTIME_DIR"], mode=0o700, exist_ok=True)
