"""The one exception hierarchy of clestudy.

Every error a user can cause derives from :class:`InputError` (the CLI maps it to exit code 2);
every failure of the system or of an integrity check derives from :class:`ClestudyError` directly
(exit code 1). Messages are one line and name the location: the file, the YAML path, the record and
the field, the value and what was allowed.

Examples
--------
>>> err = InputError("protocol.yaml: visits[0].day: must be an integer, got 'x'")
>>> err.exit_code
2
>>> str(err)
"protocol.yaml: visits[0].day: must be an integer, got 'x'"
"""

from __future__ import annotations

__all__ = [
    "AuditChainError",
    "ClestudyError",
    "InputError",
    "NotFoundError",
    "ProtocolError",
    "RecordLockedError",
    "RecordValidationError",
    "StaleVersionError",
]


class ClestudyError(Exception):
    """Base class of every error clestudy raises on purpose (exit code 1: a failure)."""

    exit_code: int = 1


class InputError(ClestudyError, ValueError):
    """Bad input from the user: a file, a value, an argument (exit code 2)."""

    exit_code = 2


class ProtocolError(InputError):
    """A study protocol that does not load or does not validate; the message names the YAML path."""


class RecordValidationError(InputError):
    """A form record that does not match its protocol; the message names the field and the rule."""


class NotFoundError(InputError):
    """A subject, visit, form or record that does not exist."""


class StaleVersionError(InputError):
    """An edit made against an old version of a record (optimistic locking refused it)."""


class RecordLockedError(InputError):
    """A write to a locked record: it refuses every change until it is unlocked with a reason."""


class AuditChainError(ClestudyError):
    """The audit trail's hash chain does not verify: a failure, not bad input."""
