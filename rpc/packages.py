"""Switchboard installs top-level packages named `rpc`, `handlers` and `metadata`. Installed as an
application (pipx, uv tool, the container) nothing else shares its environment; installed beside
other code, another distribution's `handlers` or `metadata` could be imported in its place and
fail in confusing ways far from the cause. The CLI checks first and refuses in one line.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGES = ("handlers", "metadata")
MARKER = "SWITCHBOARD_PACKAGE = True"


def foreign_package() -> str | None:
    """Why one of Switchboard's packages is not its own (or is missing), or None."""
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        try:
            own = origin is not None and MARKER in Path(origin).read_text(encoding="utf-8")
        except OSError:
            own = False
        if not own:
            found = origin or "missing"
            return (
                f"switchboard: the package {name!r} here is not Switchboard's ({found}); install Switchboard "
                "as an application, on its own: pipx install, uv tool install, or the container"
            )
    return None
