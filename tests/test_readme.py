"""The README and the documentation's pages, followed as a new user follows them: their examples run
top to bottom against a real `switchboard serve` and answer what they show (tests/walkthrough.py
says how). And the
walkthrough runner itself: a broken example fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.walkthrough import Step, blocks, matches, steps, walk

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def pages() -> list[Path]:
    """The documentation's pages in the order of mkdocs.yml's nav: the walkthrough's order."""
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    return [ROOT / "docs" / next(iter(entry.values())) for entry in nav]


def test_the_readme_runs_as_pasted(tmp_path: Path) -> None:
    ran, failures = walk(README.read_text(encoding="utf-8"), tmp_path)
    if failures:
        pytest.fail(failures[0], pytrace=False)
    assert ran > 10


def test_the_documentation_runs_as_pasted(tmp_path: Path) -> None:
    """Every page, in the navigation's order, in one session on one server, as a reader follows
    the walkthrough from Operations on."""
    documents = [(str(page.relative_to(ROOT)), page.read_text(encoding="utf-8")) for page in pages()]
    assert sorted(p.name for p in pages()) == sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    ran, failures = walk(documents, tmp_path)
    if failures:
        pytest.fail(failures[0], pytrace=False)
    assert ran > 80


BROKEN = """\
# A document

```sh
switchboard serve
```

```sh
q() { curl -s localhost:8080/v1/query -H 'Content-Type: application/json' -d "$1"; echo; }
q '{"type": "export_metadata", "args": {}}'
# {"version":3,"sources":[]}
q '{"type": "no_such_operation", "args": {}}'
q '{"type": "export_metadata", "args": {}}'
# {"version":3,"sources":[],"actions":[]}
false
echo one; false
# one                (exit status 1: as shown)
echo two
# three
```

<!-- not run: it would fail -->
```sh
false
```

```text
false
```
"""


def test_a_broken_example_fails(tmp_path: Path) -> None:
    ran, failures = walk(BROKEN, tmp_path, keep_going=True)
    assert ran == 8
    assert [failure.split(":", 1)[0] for failure in failures] == [
        "README line 11",  # an error answered where none is shown
        "README line 12",  # another answer than the one shown
        "README line 14",  # a command that fails
        "README line 17",  # another output than the one shown
    ]
    assert '--- the document shows (exit status 0):\n{"version":3,"sources":[],"actions":[]}' in failures[1]
    assert '--- it answered (exit status 0):\n{"version":3,"sources":[]}' in failures[1]
    assert walk(BROKEN, tmp_path / "again")[1] == failures[:1]  # the test stops at the first


HEREDOC = """\
<!-- not run: installs -->
```sh
pip install x
```

```sh
# prose, not an answer
cat > f.py <<'END'
# a comment in the file

print("x")
END
q '{"a":
  1}'   # a note
# {"a":1}
#  ...
echo done

# more prose
sleep 1
```
"""


def test_blocks_and_steps() -> None:
    [(first, block)] = blocks(HEREDOC)
    assert first == 7
    assert steps(first, block) == [
        Step(8, "cat > f.py <<'END'\n# a comment in the file\n\nprint(\"x\")\nEND"),
        Step(13, "q '{\"a\":\n  1}'   # a note", ['{"a":1}', " ..."]),
        Step(17, "echo done"),
        Step(20, "sleep 1"),
    ]


@pytest.mark.parametrize(
    ("shown", "answer", "expected"),
    [
        (['{"id":"0f5c6a1e-...","n":1}'], '{"id":"5d2f0c3e-1a2b-4c3d-8e9f-0a1b2c3d4e5f","n":1}', True),
        (['{"id":"0f5c6a1e-...","n":1}'], '{"id":"not-a-uuid","n":1}', False),
        (['{"n":1}'], '{"n":2}', False),
        (['{"at":"2026-11-22T19:01:02.345Z", ...}'], '{"at":"2030-01-01T00:00:00Z","more":[1]}', True),
        (["{", '  "id": 2', "}"], '{\n  "id": 2\n}', True),
        (["a  b", "1  2"], "a      b\n1      2", True),
        (["a  b"], "a b c", False),
        (["first", "..."], "first\nsecond\nthird", True),
    ],
)
def test_answers_match_loosely_only_where_the_readme_says(shown: list[str], answer: str, expected: bool) -> None:
    assert matches(shown, answer) is expected
