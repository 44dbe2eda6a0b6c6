"""What DIMSE response statuses mean to breastgate: stored, retry later, or refused for good.

C-STORE (PS3.4 B.2.3, PS3.7 C.4): 0x0000 success; 0xBxxx and 0x0001 / 0x0107 / 0x0116 warnings
(stored); 0xA7xx out of resources and 0x0213 resource limitation may pass; everything else (0xA9xx
data set does not match SOP class, 0xCxxx cannot understand, 0x0122 SOP class not supported ...)
is a refusal. C-FIND / C-MOVE (PS3.4 C.4.1.1.4, C.4.2.1.5): 0xFF00 / 0xFF01 pending; 0xB000
"sub-operations complete, one or more failures" finished partly; 0xA7xx and 0xFE00 (cancelled) may
pass; 0xA801 move destination unknown, 0xA9xx, 0xCxxx, 0x0122 are refusals.
"""

from __future__ import annotations

import logging

from breastgate.domain.errors import PeerBusyError, RejectedError

LOGGER = logging.getLogger(__name__)

SUCCESS = 0x0000
#: C-STORE warning statuses other than 0xBxxx: the object was stored.
WARNING_STATUSES = frozenset({0x0001, 0x0107, 0x0116})
#: Failure statuses that may pass besides 0xA7xx: 0x0213 resource limitation.
TRANSIENT_STATUSES = frozenset({0x0213})
#: Pending statuses of C-FIND / C-MOVE.
PENDING = frozenset({0xFF00, 0xFF01})
#: C-MOVE "sub-operations complete, one or more failures": finished, partly.
MOVE_PARTIAL = 0xB000
#: Cancelled (C-FIND / C-MOVE): may pass.
CANCELLED = 0xFE00


def _refusal(status: int) -> str:
    if status == 0xA801:
        return "move destination unknown: the PACS must list our AE title"
    if 0xA900 <= status <= 0xA9FF:
        return "data set does not match SOP class"
    if 0xC000 <= status <= 0xCFFF:
        return "cannot understand"
    if status == 0x0122:
        return "SOP class not supported"
    if status == 0x0124:
        return "not authorized"
    return "refused"


def _transient(status: int) -> bool:
    return 0xA700 <= status <= 0xA7FF or status in TRANSIENT_STATUSES


def check_store_status(status: int, what: str) -> None:
    """Return when the C-STORE stored the object (success or a warning), raise otherwise.

    Raises
    ------
    PeerBusyError
        0xA7xx or 0x0213: the peer is out of resources (retry later).
    RejectedError
        Any other failure status.
    """
    if status == SUCCESS:
        return
    if 0xB000 <= status <= 0xBFFF or status in WARNING_STATUSES:
        LOGGER.warning("C-STORE of %s stored with warning status 0x%04X", what, status)
        return
    if _transient(status):
        raise PeerBusyError(f"C-STORE status 0x{status:04X} (out of resources) for {what}", status)
    raise RejectedError(f"C-STORE status 0x{status:04X} ({_refusal(status)}) for {what}", status)


def check_query_status(service: str, status: int, what: str) -> None:
    """Map the final C-FIND / C-MOVE status: return for success and the partial-move warning.

    Raises
    ------
    PeerBusyError
        0xA7xx (out of resources) or 0xFE00 (cancelled).
    RejectedError
        Any other failure status (0xA801 names the missing move destination).
    """
    if status in (SUCCESS, MOVE_PARTIAL):
        return
    if 0xA700 <= status <= 0xA7FF or status == CANCELLED:
        raise PeerBusyError(
            f"{service} status 0x{status:04X} (out of resources or cancelled) for {what}", status
        )
    reason = _refusal(status)
    if 0xC000 <= status <= 0xCFFF:
        reason = "unable to process"
    elif 0xA900 <= status <= 0xA9FF:
        reason = "identifier does not match SOP class"
    raise RejectedError(f"{service} status 0x{status:04X} ({reason}) for {what}", status)
