"""Data sources: named database URLs that `sql` and `table` actions write to.

A source holds a SQLAlchemy URL (`url`) or the name of an environment variable holding one
(`url_from_env`, read when the source is first used, so secrets stay out of metadata). The
plain driver names are mapped to their asyncio drivers: `sqlite://` to aiosqlite, `postgresql://`
to asyncpg; any other `dialect+driver://` is used as given.

A password written in a URL is shown as `***` wherever metadata is answered (exports, diffs,
inconsistencies), unless an export asks for secrets (a backup). A URL whose password is `***`
given back (an export re-applied, the console saving a source) keeps the password stored for
that source, when it is the same URL otherwise; else it is refused.
"""

from __future__ import annotations

from functools import lru_cache

import msgspec

from metadata.actions import check_env_name
from metadata.errors import ParseFailed
from metadata.strict import StoredName, Strict

_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}


@lru_cache(maxsize=256)  # on every run of a sql/table action
def async_url(url: str) -> str:
    """The URL with its asyncio driver; a ValueError when it is no SQLAlchemy URL."""
    # Imported here, not at the top: the CLI reads project files through this module and should
    # not pay for SQLAlchemy's import (the server has it loaded anyway).
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError(f"not a database URL: {url!r} (expected dialect[+driver]://...)") from None
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False) if driver else url


# The one reserved name a source may read its URL from: Hasura's own database URL, which Hasura
# projects' sources name (`from_env: HASURA_GRAPHQL_DATABASE_URL`); it holds nothing but that URL.
HASURA_DATABASE_URL = "HASURA_GRAPHQL_DATABASE_URL"


class DataSource(Strict):
    name: StoredName
    url: str | None = None
    url_from_env: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("the source name must not be empty")
        if (self.url is None) == (self.url_from_env is None):
            raise ValueError("expecting exactly one of url or url_from_env")
        if self.url is not None:
            async_url(self.url)
        else:
            assert self.url_from_env is not None
            if self.url_from_env != HASURA_DATABASE_URL:
                check_env_name(self.url_from_env, "url_from_env")


MASK = "***"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(DataSource).decode


def _parts(url: str) -> tuple[str | None, str]:
    """(the URL's password, the URL with its password masked); a URL SQLAlchemy cannot read is
    taken to hold none (the source refuses it anyway)."""
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        return None, url
    if parsed.password is None:
        return None, url
    return str(parsed.password), parsed.render_as_string(hide_password=True)


def masked(source: DataSource) -> DataSource:
    """The source as answered: a password in its URL shown as ***."""
    if source.url is None:
        return source
    password, shown = _parts(source.url)
    return source if password is None else msgspec.structs.replace(source, url=shown)


def masked_body(body: bytes) -> bytes:
    """A stored source's JSON body, as answered."""
    source = _decode(body)
    shown = masked(source)
    return body if shown is source else _encode(shown)


def unmasked(source: DataSource, stored: object, path: str = "$.url") -> DataSource:
    """`source` as given, or, when its password is ***, with the password `stored` (the source of
    that name now) holds for the same URL."""
    if source.url is None or _parts(source.url)[0] != MASK:
        return source
    if isinstance(stored, DataSource) and stored.url is not None:
        password, shown = _parts(stored.url)
        if password is not None and shown == source.url:
            return msgspec.structs.replace(source, url=stored.url)
    raise ParseFailed(
        f'the password of source "{source.name}" is masked ({MASK}) and no source of that name holds one '
        "for this URL: give the password, or use url_from_env",
        path,
    )
