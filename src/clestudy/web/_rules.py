"""Permission rules: every route of the web app and the API declares one.

A rule names the roles that may use a route and whether the route is scoped to the user's sites.
Routes declare their rule with a :class:`~clestudy.web._auth.Permission` dependency;
:func:`route_rules` reads them back from the app's route table, so the route × role × site matrix
test (and ``docs/security.md``, section "Routes") is generated from the routes themselves and a
new route without a rule fails it.

Roles are the accounts module's (``clestudy.store.ROLES``): admin, investigator, coordinator,
monitor, statistician. Admins see every site; every other role sees the subjects of its sites.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ADMIN",
    "AUTHENTICATED",
    "DQ_EXCLUDE",
    "DQ_RESOLVE",
    "DQ_RUN",
    "ENROL",
    "ENTER",
    "LOCK",
    "PUBLIC",
    "QUERY_ANSWER",
    "QUERY_CLOSE",
    "QUERY_RAISE",
    "QUERY_VIEW",
    "RANDOMIZATION_ADMIN",
    "RANDOMIZE",
    "READ",
    "READ_SUBJECT",
    "ROLES",
    "RULES",
    "SIGN",
    "UNBLIND",
    "UNLOCK",
    "VERIFY",
    "Rule",
]

#: The roles of clestudy accounts (the accounts store's ``ROLES``, in the same order).
ROLES = ("admin", "investigator", "coordinator", "monitor", "statistician")


@dataclass(frozen=True)
class Rule:
    """Who may use a route.

    Attributes
    ----------
    name : str
        The rule's name in ``docs/security.md``.
    roles : tuple of str
        The roles allowed; empty for a public route (no login).
    site_scoped : bool
        The route addresses one subject: a user outside the subject's site gets 404, the same
        404 as for an unknown subject.
    """

    name: str
    roles: tuple[str, ...]
    site_scoped: bool = False

    @property
    def public(self) -> bool:
        """No login needed."""
        return not self.roles

    def allows(self, role: str) -> bool:
        """Whether ``role`` may use the route (a public route allows everyone)."""
        return self.public or role in self.roles


PUBLIC = Rule("public", ())
AUTHENTICATED = Rule("authenticated", ROLES)
READ = Rule("read", ROLES)
READ_SUBJECT = Rule("read-subject", ROLES, site_scoped=True)
ENROL = Rule("enrol", ("admin", "investigator", "coordinator"))
ENTER = Rule("enter-data", ("admin", "investigator", "coordinator"), site_scoped=True)
VERIFY = Rule("verify", ("admin", "monitor"), site_scoped=True)
# lock: form, visit or subject level (monitors lock what they verified); unlock: admin, reason
LOCK = Rule("lock", ("admin", "monitor"), site_scoped=True)
UNLOCK = Rule("unlock", ("admin",), site_scoped=True)
ADMIN = Rule("admin", ("admin",))
#: Electronic signatures (docs/data-management.md): investigators only, at their own sites.
SIGN = Rule("sign", ("investigator",), site_scoped=True)
# randomization (web/_randomization.py)
RANDOMIZE = Rule("randomize", ("admin", "investigator", "coordinator"), site_scoped=True)
UNBLIND = Rule("unblind", ("admin", "investigator"), site_scoped=True)
RANDOMIZATION_ADMIN = Rule("randomization-admin", ("admin",))
# queries (docs/security.md, "Query life cycle"): view, raise, answer and close are separate rights
QUERY_VIEW = Rule("query-view", ROLES, site_scoped=True)
QUERY_RAISE = Rule("query-raise", ("admin", "monitor"), site_scoped=True)
QUERY_ANSWER = Rule("query-answer", ("admin", "investigator", "coordinator"), site_scoped=True)
QUERY_CLOSE = Rule("query-close", ("admin", "monitor"), site_scoped=True)

# data quality (web/_quality.py): run the rules over the study; exclude a finding (site-scoped:
# another site's finding is the same 404 as an unknown one)
DQ_RUN = Rule("dq-run", ("admin", "monitor"))
DQ_EXCLUDE = Rule("dq-exclude", ("admin", "monitor"), site_scoped=True)
# resolve a save-time discrepancy with a reason (docs/security.md, permission table)
DQ_RESOLVE = Rule("discrepancy-resolve", ("admin", "investigator", "coordinator"), site_scoped=True)

#: Every rule by name.
RULES = {
    r.name: r
    for r in (
        *(PUBLIC, AUTHENTICATED, READ, READ_SUBJECT, ENROL, ENTER, VERIFY, LOCK, ADMIN, SIGN),
        *(RANDOMIZE, UNBLIND, RANDOMIZATION_ADMIN),
    )
}
RULES[UNLOCK.name] = UNLOCK
RULES.update({r.name: r for r in (QUERY_VIEW, QUERY_RAISE, QUERY_ANSWER, QUERY_CLOSE)})
RULES |= {r.name: r for r in (DQ_RUN, DQ_EXCLUDE, DQ_RESOLVE)}
