"""A bare pynetdicom chunked-receive Storage SCP: the framework's ceiling for the ingest bench.

Moves each received temp file into ``out`` and answers Success: no fsync, no index, no parsing.
``python bench/_bare_scp.py PORT OUT_DIR``
"""

from __future__ import annotations

import os
import sys
from typing import Any

from pynetdicom import AE, AllStoragePresentationContexts, _config, evt

_config.STORE_RECV_CHUNKED_DATASET = True


def main() -> None:
    port, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)

    def on_store(event: Any) -> int:
        os.replace(event.dataset_path, os.path.join(out, f"{event.request.AffectedSOPInstanceUID}.dcm"))
        return 0x0000

    ae = AE("BARE")
    ae.maximum_pdu_size = 0
    ae.supported_contexts = AllStoragePresentationContexts
    ae.start_server(("127.0.0.1", port), evt_handlers=[(evt.EVT_C_STORE, on_store)])


if __name__ == "__main__":
    main()
