"""Re-fetch the console's vendored JavaScript libraries from the npm registry, with `npm pack`.

    python scripts/vendor_console.py            # writes rpc/console_assets/vendor/

The console has no build step: what is committed under rpc/console_assets/ is what the server serves.
Its libraries are copied here at exact versions (change them below, run this, commit the
result): preact and its hooks (the components), htm (JSX-like templates in plain JavaScript),
js-yaml (the raw YAML view). `npm pack` checks each tarball against the registry's integrity
hash. Each file is the package's own ES module build, with two edits: the hooks' bare import of
"preact" points at the file beside it (browsers resolve no bare names without an import map,
which would need an inline script), and source map comments are dropped (the maps are not
vendored).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "rpc" / "console_assets" / "vendor"

# package, version, {file in the package: file served}, the license file in the package
LIBRARIES = [
    ("preact", "11.2.0", {"dist/preact.mjs": "preact.js", "hooks/dist/hooks.mjs": "preact-hooks.js"}, "LICENSE"),
    ("htm", "3.1.1", {"dist/htm.mjs": "htm.js"}, "LICENSE"),
    ("js-yaml", "5.5.0", {"dist/browser/js-yaml.esm.min.mjs": "js-yaml.js"}, "LICENSE"),
]

_SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")
_BARE_PREACT = re.compile(r"""from\s*(["'])preact\1""")


def fetch(package: str, version: str, directory: Path) -> tuple[Path, str]:
    """The unpacked package and its integrity hash, as npm checked it."""
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    )
    [packed] = json.loads(out.stdout)
    unpacked = directory / package
    with tarfile.open(directory / packed["filename"]) as tar:
        tar.extractall(unpacked, filter="data")
    return unpacked / "package", str(packed["integrity"])


def main() -> None:
    VENDOR.mkdir(parents=True, exist_ok=True)
    lines = ["# Vendored by scripts/vendor_console.py; do not edit by hand.", ""]
    with tempfile.TemporaryDirectory() as tmp:
        for package, version, files, license_file in LIBRARIES:
            root, integrity = fetch(package, version, Path(tmp))
            for source, served in files.items():
                text = _SOURCE_MAP.sub("\n", (root / source).read_text())
                text = _BARE_PREACT.sub(r"from\1./preact.js\1", text)
                (VENDOR / served).write_text(text.rstrip("\n") + "\n")
            shutil.copyfile(root / license_file, VENDOR / f"LICENSE.{package}")
            lines.append(f"{package}@{version} {integrity} -> {', '.join(files.values())}")
    (VENDOR / "VERSIONS").write_text("\n".join(lines) + "\n")
    print((VENDOR / "VERSIONS").read_text(), end="")


if __name__ == "__main__":
    main()
