"""Telling a row the database refuses (its values) from a database that cannot take any row now.

The ledger writer sets aside a refused row and keeps the others flowing, but keeps every row and
retries when the database is down, full or locked: mistaking an outage for bad rows would set aside
every row of the outage. So only errors that depend on the values are row errors: integrity
violations, data exceptions (SQLSTATE classes 22 and 23), and a value the driver cannot bind (a list
where a string belongs). Everything else (connection errors, a missing table, a read-only or full
disk, a lock timeout) means "not now", whatever the rows."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

# SQLite (in the writer process) reports errors by class name: these depend on the values bound.
SQLITE_ROW_ERRORS = frozenset({"IntegrityError", "ProgrammingError", "InterfaceError", "DataError",
                               "TypeError", "ValueError", "KeyError", "OverflowError"})
ROW_SQLSTATE_CLASSES = ("22", "23")  # data exception, integrity constraint violation


class RejectedRowsError(Exception):
    """The database refused these rows for their values; writing them again cannot succeed."""


def is_row_error(error: BaseException) -> bool:
    if isinstance(error, RejectedRowsError | sa_exc.IntegrityError | sa_exc.DataError):
        return True
    if isinstance(error, TypeError | ValueError | KeyError | OverflowError):
        return True  # raised while building the statement's parameters from the row
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:  # the driver's error under SQLAlchemy's
        seen.add(id(cause))
        sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
        if isinstance(sqlstate, str):
            return sqlstate[:2] in ROW_SQLSTATE_CLASSES
        cause = getattr(cause, "orig", None) or cause.__cause__
    return False
