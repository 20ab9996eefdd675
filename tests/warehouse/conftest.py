"""Warehouse test fixtures: fresh databases on the same server as ``pg_url``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from chalkola_pipelines.warehouse.migrations import apply_migrations


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture
def make_database(pg_server_url: str) -> Iterator[Callable[..., str]]:
    """Factory of empty (or migrated, with migrate=True) databases, dropped after the test."""
    created: list[str] = []

    def make(*, migrate: bool = False) -> str:
        name = f"chalkola_wh_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(pg_server_url, autocommit=True) as admin:
            admin.execute(f'create database "{name}"')
        created.append(name)
        url = _with_database(pg_server_url, name)
        if migrate:
            with psycopg.connect(url, prepare_threshold=None) as conn:
                apply_migrations(conn)
        return url

    yield make
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        for name in created:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s"
                " and pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f'drop database if exists "{name}"')


@pytest.fixture
def db(make_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    """A pooler-style autocommit connection (prepare_threshold=None) to a fresh, migrated database."""
    url = make_database(migrate=True)
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        yield conn
