"""Single sign-on: who the hospital's identity provider says signed in, and with which roles.

The IdP's claims name the user (``preferred_username``, else ``sub``) and carry its groups or
roles in one claim (a list, or a space- or comma-separated text; a dotted path such as Keycloak's
``realm_access.roles``). A role map turns the IdP's values into breastgate roles
(:class:`~breastgate.domain.governance.Role`); values it does not name give nothing. A user is
admitted with at least one role and is kept in ``app_user`` with ``source="oidc"`` (no password,
no token) so the audit trail and the users list know them; a user disabled there stays refused,
and a name that belongs to a local account is refused (the IdP cannot take over ``admin``). Every
refusal is audited as ``user.sign_in_refused`` with ``via: oidc`` and the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from breastgate.domain.audit import AuditKind
from breastgate.domain.errors import InvalidInputError
from breastgate.domain.governance import Role, roles_text
from breastgate.governance.accounts import SignInRefused
from breastgate.store import audit
from breastgate.store import governance as users

SOURCE = "oidc"
MAX_NAME = 128
#: The default map: the IdP sends breastgate's own role names.
IDENTITY_MAP: Mapping[str, frozenset[str]] = {r.value: frozenset({r.value}) for r in Role}
_SEPARATORS = re.compile(r"[\s,]+")


def parse_role_map(text: str) -> dict[str, frozenset[str]]:
    """``idp-value=role[,role];...`` (e.g. ``breast-radiologists=radiologist;pacs-admins=ai_admin``);
    an empty text is the identity map. A value named twice gets the roles of both entries.

    Raises
    ------
    InvalidInputError
        An entry without ``=``, an empty IdP value, or a role breastgate does not have.
    """
    if not text.strip():
        return dict(IDENTITY_MAP)
    mapping: dict[str, frozenset[str]] = {}
    for entry in (part.strip() for part in text.split(";")):
        if not entry:
            continue
        value, equals, roles = entry.partition("=")
        if not equals or not value.strip():
            raise InvalidInputError(f"expected idp-value=role[,role];... but got an entry {entry!r}")
        parsed = frozenset(r.value for r in Role.parse_many(roles))
        mapping[value.strip()] = mapping.get(value.strip(), frozenset()) | parsed
    return mapping


def claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """The claim ``path``: a top-level claim of that exact name (claim names may hold dots, e.g.
    URLs), else a dotted path into nested objects (``realm_access.roles``); None when absent."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def claim_values(value: Any) -> frozenset[str]:
    """A claim's values: a list of strings, or one text separated by spaces or commas."""
    if isinstance(value, str):
        return frozenset(v for v in _SEPARATORS.split(value) if v)
    if isinstance(value, list | tuple):
        return frozenset(str(v).strip() for v in value if isinstance(v, str | int) and str(v).strip())
    return frozenset()


def mapped_roles(
    claims: Mapping[str, Any], claim: str, role_map: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The breastgate roles the IdP's values in ``claim`` map to (empty: none)."""
    found: frozenset[str] = frozenset()
    for value in claim_values(claim_at(claims, claim)):
        found |= role_map.get(value, frozenset())
    return found


def user_name(claims: Mapping[str, Any], claim: str) -> str:
    """The user's name: the claim ``claim`` when it is a non-empty text, else ``sub`` ('' if neither)."""
    for candidate in (claim_at(claims, claim), claims.get("sub")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return ""


def admit(session: Session, *, name: str, roles: frozenset[str], client: str) -> users.User:
    """The user the IdP signed in, recorded or refreshed as an ``oidc`` user with ``roles``.

    Raises
    ------
    SignInRefused
        No name, a name too long or of a local account, a disabled user, or no role; audited.
    """
    existing = users.get_user(session, name) if 0 < len(name) <= MAX_NAME else None
    reason = None
    if not name:
        reason = "no user name in the claims"
    elif len(name) > MAX_NAME:
        reason = f"user name longer than {MAX_NAME} characters"
    elif existing is not None and existing.source != SOURCE:
        reason = f"the name belongs to a {existing.source} account"
    elif existing is not None and not existing.active:
        reason = "disabled"
    elif not roles:
        reason = "no claim value maps to a breastgate role"
    if reason is not None:
        audit.append(
            session,
            AuditKind.SIGN_IN_REFUSED,
            actor=f"anonymous@{client}",
            subject=name[:MAX_NAME] or None,
            data={"reason": reason, "via": SOURCE},
        )
        raise SignInRefused(reason)
    if existing is not None and existing.roles == roles:
        return existing
    return users.add_user(session, name, roles_text(roles), actor=f"system:{SOURCE}", source=SOURCE)
