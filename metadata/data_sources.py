"""Data sources: named database URLs that `sql` and `table` actions write to.

A source holds a SQLAlchemy URL (`url`) or the name of an environment variable holding one
(`url_from_env`, read when the source is first used, so secrets stay out of metadata). The
plain driver names are mapped to their asyncio drivers: `sqlite://` to aiosqlite, `postgresql://`
to asyncpg; any other `dialect+driver://` is used as given.
"""

from __future__ import annotations

from functools import lru_cache

from metadata.actions import check_env_name
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
            check_env_name(self.url_from_env, "url_from_env")
