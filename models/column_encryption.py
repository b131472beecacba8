"""Encrypting columns that used to hold plain text (migration 26: names and addresses).

A table is walked by primary key, `BATCH_ROWS` rows at a time, so a table of millions of rows is
never held in memory; each batch's changes are written by id. A value that already decrypts under
its purpose is left alone, so a run that stopped halfway can simply run again.
"""

from __future__ import annotations

from typing import Callable

import peewee

from models.db import db, is_mysql
from models import cipher

BATCH_ROWS = 500


def widen_to_text(table: str, columns: dict[str, bool]) -> None:
    """MySQL: make `columns` (name -> nullable) TEXT, since a ciphertext outgrows the VARCHAR that
    held the plain value; one ALTER per table (one table copy). SQLite enforces no length."""
    if not is_mysql() or not columns:
        return
    changes = ", ".join(f"MODIFY `{name}` TEXT {'NULL' if nullable else 'NOT NULL'}"
                        for name, nullable in columns.items())
    db.execute_sql(f"ALTER TABLE `{table}` {changes}")


def _is_token(data_cipher: cipher.DataCipher, value: str, purpose: str) -> bool:
    try:
        data_cipher.decrypt(value, purpose)
    except ValueError:
        return False
    return True


def encrypt_columns(table: str, purposes: dict[str, str],
                    indexes: dict[str, tuple[str, Callable[[str | None], str | None]]] | None = None,
                    batch_rows: int | None = None) -> int:
    """Encrypt the plain values of `purposes` (column -> purpose) in `table`; `indexes` (index
    column -> (source column, function of the plain value)) fills blind indexes on the way.
    Returns how many rows were rewritten."""
    data_cipher = cipher.current()
    batch_rows = batch_rows or BATCH_ROWS
    indexes = indexes or {}
    names = list(purposes)
    rows_table = peewee.Table(table, ("id", *names)).bind(db)
    key = peewee.Column(rows_table, "id")
    selected = [key, *(peewee.Column(rows_table, name) for name in names)]
    last_id, rewritten = 0, 0
    while True:
        batch = list(rows_table.select(*selected).where(key > last_id).order_by(key).limit(batch_rows).tuples())
        if not batch:
            return rewritten
        last_id = batch[-1][0]
        for row_id, *values in batch:
            plain = {}
            changes = {}
            for name, value in zip(names, values):
                if value in (None, "") or _is_token(data_cipher, value, purposes[name]):
                    continue
                plain[name] = value
                changes[peewee.Column(rows_table, name)] = data_cipher.encrypt(value, purposes[name])
            for index_column, (source, index_of) in indexes.items():
                if source in plain:
                    changes[peewee.Column(rows_table, index_column)] = index_of(plain[source])
            if changes:
                rows_table.update(changes).where(key == row_id).execute()
                rewritten += 1
