"""One publisher per destination (DESIGN §1): PACS objects, worklist, report, HL7 and webhooks.

Each publisher takes the gated results of its destination (:mod:`breastgate.governance.gate`) and
writes and owes what that destination receives, inside the job's transaction, so a peer that is
down receives it later and a re-run owes nothing new (outbox keys derive from what is reported).
"""
