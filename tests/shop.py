"""A small shop database for sql and table actions: products, orders, and stock (composite key)."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from metadata.data_sources import async_url


def _schema(dialect: str) -> list[str]:
    serial = "SERIAL PRIMARY KEY" if dialect == "postgresql" else "INTEGER PRIMARY KEY"
    return [
        f"""CREATE TABLE products (
            id {serial},
            sku TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            price NUMERIC(10, 2) NOT NULL CONSTRAINT price_not_negative CHECK (price >= 0),
            note TEXT
        )""",
        f"""CREATE TABLE orders (
            id {serial},
            product_id INTEGER NOT NULL REFERENCES products (id),
            qty INTEGER NOT NULL DEFAULT 1,
            placed_on DATE,
            note TEXT
        )""",
        """CREATE TABLE stock (
            shop TEXT NOT NULL,
            sku TEXT NOT NULL,
            qty INTEGER NOT NULL,
            PRIMARY KEY (shop, sku)
        )""",
        "CREATE TABLE log (line TEXT)",  # no primary key
        "INSERT INTO products (sku, name, price) VALUES ('A1', 'Anvil', 10.5), ('B2', 'Bell', 3)",
        "INSERT INTO stock (shop, sku, qty) VALUES ('north', 'A1', 5), ('south', 'A1', 7)",
    ]


def sql(url: str, statement: str, **params: Any) -> list[dict[str, Any]]:
    """Run one statement on the source database directly (not through Switchboard)."""

    async def run() -> list[dict[str, Any]]:
        engine = create_async_engine(async_url(url))
        try:
            async with engine.begin() as conn:
                result = await conn.execute(sa.text(statement), params)
                return [dict(row._mapping) for row in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


def create_shop(url: str) -> None:
    dialect = sa.make_url(url).get_backend_name()
    for statement in _schema(dialect):
        sql(url, statement)
