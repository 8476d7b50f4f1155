"""Re-fetch the console's vendored JavaScript libraries from the npm registry, with `npm pack`.

    python scripts/vendor_console.py            # writes rpc/console_assets/vendor/ and tests/vendor/

The console has no build step: what is committed under rpc/console_assets/ is what the server serves.
Its libraries are copied here at exact versions (change them below, run this, commit the
result): preact and its hooks (the components), htm (JSX-like templates in plain JavaScript),
js-yaml (the raw YAML view), and for the GraphiQL page graphiql's browser build with React 18's.
The tests' own browser library goes to tests/vendor/ (never
served): axe-core, the accessibility engine the browser tests run on every page. `npm pack`
checks each tarball against the registry's integrity hash. Each file is the package's own ES
module build, with two edits: the hooks' bare import of "preact" points at the file beside it
(browsers resolve no bare names without an import map, which would need an inline script), and
source map comments are dropped (the maps are not vendored).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "rpc" / "console_assets" / "vendor"
TESTS_VENDOR = ROOT / "tests" / "vendor"

# package, version, {file in the package: file written}, the license file in the package, where
LIBRARIES = [
    (
        "preact",
        "11.2.0",
        {"dist/preact.mjs": "preact.js", "hooks/dist/hooks.mjs": "preact-hooks.js"},
        "LICENSE",
        VENDOR,
    ),
    ("htm", "3.1.1", {"dist/htm.mjs": "htm.js"}, "LICENSE", VENDOR),
    ("js-yaml", "5.5.0", {"dist/browser/js-yaml.esm.min.mjs": "js-yaml.js"}, "LICENSE", VENDOR),
    # The GraphiQL page: graphiql's own browser build (UMD, React and ReactDOM as globals) and its
    # stylesheet, with React 18's browser builds (React 19 ships none). Loaded by that page only.
    ("react", "18.3.1", {"umd/react.production.min.js": "react.js"}, "LICENSE", VENDOR),
    ("react-dom", "18.3.1", {"umd/react-dom.production.min.js": "react-dom.js"}, "LICENSE", VENDOR),
    ("graphiql", "4.1.2", {"graphiql.min.js": "graphiql.js", "graphiql.min.css": "graphiql.css"}, "LICENSE", VENDOR),
    ("axe-core", "4.14.1", {"axe.min.js": "axe.min.js"}, "LICENSE", TESTS_VENDOR),
]

_SOURCE_MAP = re.compile(r"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ \*/)\s*$")
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
    header = ["# Vendored by scripts/vendor_console.py; do not edit by hand.", ""]
    lines: dict[Path, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package, version, files, license_file, where in LIBRARIES:
            where.mkdir(parents=True, exist_ok=True)
            root, integrity = fetch(package, version, Path(tmp))
            for source, written in files.items():
                text = _SOURCE_MAP.sub("\n", (root / source).read_text())
                text = _BARE_PREACT.sub(r"from\1./preact.js\1", text)
                (where / written).write_text(text.rstrip("\n") + "\n")
            shutil.copyfile(root / license_file, where / f"LICENSE.{package}")
            lines.setdefault(where, list(header)).append(
                f"{package}@{version} {integrity} -> {', '.join(files.values())}"
            )
    for where, written_lines in lines.items():
        (where / "VERSIONS").write_text("\n".join(written_lines) + "\n")
        print((where / "VERSIONS").read_text(), end="")


if __name__ == "__main__":
    main()
