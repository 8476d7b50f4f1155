"""`switchboard init [DIR]`: a new project, laid out as `hasura init` lays one out (`config.yaml`
and `metadata/`), with one example action and the webhook that answers it, ready for
`switchboard metadata apply DIR`. Also: a project directory (one holding `config.yaml`) stands
for its metadata directory wherever the CLI takes one.
"""

from __future__ import annotations

from pathlib import Path

import click

from rpc.cli_session import fail

CONFIG = "config.yaml"
FILES = {
    CONFIG: """\
version: 3
endpoint: http://localhost:8080
metadata_directory: metadata
actions:
  kind: synchronous
  handler_webhook_baseurl: http://localhost:3000
""",
    "metadata/version.yaml": "version: 3\n",
    "metadata/actions.graphql": '''\
type Mutation {
  """
  An example: says hello. Its handler is webhook.py.
  """
  hello(name: String!): HelloOutput
}

type HelloOutput {
  greeting: String!
}
''',
    "metadata/actions.yaml": """\
actions:
  - name: hello
    definition:
      kind: synchronous
      handler: '{{ACTION_BASE_URL}}/hello'
    permissions:
      - role: user
custom_types:
  enums: []
  input_objects: []
  objects:
    - name: HelloOutput
  scalars: []
""",
    "webhook.py": '''\
"""The example action's handler: Hasura's webhook contract, on http://127.0.0.1:3000 (or $PORT)."""

import os

from aiohttp import web

routes = web.RouteTableDef()


@routes.post("/hello")
async def hello(request: web.Request) -> web.Response:
    call = await request.json()  # {"action": {"name"}, "input": {...}, "session_variables": {...}}
    return web.json_response({"greeting": f"Hello, {call['input']['name']}!"})


app = web.Application()
app.add_routes(routes)
web.run_app(app, host="127.0.0.1", port=int(os.environ.get("PORT", "3000")), print=None)
''',
}


def metadata_dir(path: Path) -> Path:
    """A project directory's metadata directory (config.yaml's `metadata_directory`), else `path`."""
    config = path / CONFIG
    if not config.is_file():
        return path
    import yaml

    try:
        settings = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        fail(f"{config}: {exc}", 2)
    name = settings.get("metadata_directory") if isinstance(settings, dict) else None
    return path / (name if isinstance(name, str) and name else "metadata")


@click.command()
@click.argument("directory", default="switchboard", required=False)
def init(directory: str) -> None:
    """Create a project in DIRECTORY (default: switchboard) with an example action."""
    root = Path(directory)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        fail(f"{directory} already exists and is not empty; choose another directory", 2)
    try:
        for name, text in FILES.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{directory}: {exc.strerror}", 2)
    click.echo(
        f"created {directory}: {', '.join(FILES)}\n"
        "next, each in its own terminal:\n"
        f"  python {root / 'webhook.py'}                             # the example's handler, on port 3000\n"
        "  ACTION_BASE_URL=http://127.0.0.1:3000 switchboard serve\n"
        f"  switchboard metadata apply {directory}"
    )
