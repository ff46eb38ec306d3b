"""One subject by id in one prebuilt Core statement: the web layer's per-request site check.

:meth:`Store.subject <clestudy.store.Store.subject>` answers the same question through an ORM
session, which on SQLite also opens a ``BEGIN IMMEDIATE`` transaction (the store's default) and so
waits for every writer. :func:`read_subject` reads the subject's four columns with a statement
built once, on a :func:`~clestudy.store._engine.single_read` connection (no ``BEGIN``: on SQLite
the statement's own read transaction, which in WAL mode never waits for a writer; autocommit on
PostgreSQL, no ``BEGIN`` and ``ROLLBACK`` round trips), which is what a request that only needs the subject's site can use.
"""

from __future__ import annotations

from sqlalchemy import Engine, bindparam, false, select

from clestudy.store._engine import single_read
from clestudy.store._rows import SubjectState
from clestudy.store._schema import SubjectRow

__all__ = ["read_subject"]

_SUBJECT = SubjectRow.__table__.c
#: The subject of a study by id, unless deleted (built once; SQLAlchemy caches its SQL).
_SUBJECT_BY_KEY = select(_SUBJECT.subject_key, _SUBJECT.arm, _SUBJECT.site, _SUBJECT.status).where(
    _SUBJECT.study_id == bindparam("study_pk"),
    _SUBJECT.subject_key == bindparam("subject_key"),
    _SUBJECT.deleted == false(),
)


def read_subject(engine: Engine, study_pk: int, subject_id: str) -> SubjectState | None:
    """The enrolled subject ``subject_id`` of the study ``study_pk``, or ``None`` when there is
    none of that id (or it was deleted): the answer of ``Store.subject`` in one read-only query.

    Parameters
    ----------
    engine : Engine
        The store's engine (``Store.engine``).
    study_pk : int
        The study's row id (``Store.study_pk``).
    subject_id : str
        The subject's id as enrolled.
    """
    with single_read(engine) as conn:
        row = conn.execute(_SUBJECT_BY_KEY, {"study_pk": study_pk, "subject_key": subject_id})
        found = row.first()
    return None if found is None else SubjectState(found[0], found[1], found[2], found[3])
