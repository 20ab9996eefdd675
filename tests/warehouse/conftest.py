"""Warehouse test fixtures: fresh databases on the same server as ``pg_url``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import psycopg
import pytest

from chalkola_pipelines.warehouse.postgres import scratch_database


@pytest.fixture
def make_database(pg_server_url: str) -> Iterator[Callable[..., str]]:
    """Factory of empty (or migrated, with migrate=True) databases, dropped after the test."""
    with contextlib.ExitStack() as stack:

        def make(*, migrate: bool = False) -> str:
            return stack.enter_context(scratch_database(pg_server_url, "chalkola_wh", migrate=migrate))

        yield make


@pytest.fixture
def db(make_database: Callable[..., str]) -> Iterator[psycopg.Connection]:
    """A pooler-style autocommit connection (prepare_threshold=None) to a fresh, migrated database."""
    url = make_database(migrate=True)
    with psycopg.connect(url, autocommit=True, prepare_threshold=None) as conn:
        yield conn
