"""Reading the CLI's stderr in tests: the ``--json`` error object as its one-line text form."""

from __future__ import annotations

import json


def as_text_error(err: str) -> str:
    """``err`` unchanged, or, when it is the ``--json`` error object (one line, keys ``error``,
    ``field`` and ``where``), the text form ``error: MESSAGE`` the same error has without
    ``--json``; so one assertion on the message serves both."""
    if not err.startswith("{"):
        return err
    line, *rest = err.splitlines()
    assert rest == [], err
    record = json.loads(line)
    assert set(record) == {"error", "field", "where"}, record
    return f"error: {record['error']}\n"
