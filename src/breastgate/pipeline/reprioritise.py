"""Re-apply the triage policy to the open worklist when the site changes it.

At start-up the gateway compares each open entry's policy (``id@version``) with the configured
one; entries made under another policy are triaged again from the results that reach the worklist
(the governance gate: integrated at ``worklist``, as when they were first ranked), and every change
is recorded with the new policy version (``store.worklist``), so a priority can always be traced
to the policy that set it.
"""

from __future__ import annotations

import logging

from breastgate.domain.governance import Destination, Mode
from breastgate.governance.gate import results_for
from breastgate.pipeline.publish.worklist import rank
from breastgate.store import worklist as worklist_store
from breastgate.store.db import Database
from breastgate.worklist.policy import TriagePolicy, triage

LOGGER = logging.getLogger(__name__)

OPEN = ("scheduled", "in_progress")


def reapply_policy(db: Database, policy: TriagePolicy, default_mode: Mode = Mode.SILENT) -> int:
    """Triage again every open entry made under another policy; returns how many changed."""
    changed = 0
    with db.session() as session:
        stale = [
            item
            for status in OPEN
            for item in worklist_store.list_worklist(session, status=status, limit=100_000)
            if item.policy != policy.name
        ]
    for item in stale:
        with db.session() as session:
            gated = results_for(
                session, item.study_instance_uid, Destination.WORKLIST, default_mode=default_mode
            )
            _, decision = triage(gated.results, policy)
            reason = f"policy changed from {item.policy} to {policy.name}"
            changed += rank(session, item.study_instance_uid, decision, reason=reason)
    return changed
