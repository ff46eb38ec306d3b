"""Blinding: what a user of a blinded role sees of a subject's arm (nothing).

A randomized study's protocol lists its ``blinded_roles`` (``randomization.blinded_roles``,
default none: open label). For a user of such a role every subject the web layer hands out
(:func:`clestudy.web._access.visible_subjects`, :func:`~clestudy.web._access.subject_for`, so
the subject list, the subject page, the dashboard and the API alike) carries the arm
:data:`BLINDED` instead of the arm. Unblinding is a separate, audited action
(``Store.unblind``), shown only in its own response.
"""

from __future__ import annotations

import dataclasses

from clestudy.store import Store, SubjectState
from clestudy.web._auth import Principal

__all__ = ["BLINDED", "blind_subject", "is_blinded"]

#: The arm a blinded user sees for a randomized subject.
BLINDED = "blinded"


def is_blinded(store: Store, principal: Principal) -> bool:
    """Whether the user's role is blinded in this study."""
    spec = store.protocol.randomization
    return spec is not None and principal.user.role in spec.blinded_roles


def blind_subject(store: Store, principal: Principal, subject: SubjectState) -> SubjectState:
    """The subject as the user may see it: the arm masked for a blinded role."""
    if subject.arm and is_blinded(store, principal):
        return dataclasses.replace(subject, arm=BLINDED)
    return subject
