"""A stand-in vendor inference service (stdlib only), run as a separate process by the tests.

    python -m tests.support.vendor_http_engine --port P [--mode MODE] [--record FILE]
                                               [--point COL,ROW] [--sleep SECONDS]

It answers ``POST /`` per the breastgate engine contract (``docs/engines.md``): a mass on the
first CC instance it was sent, centred on ``--point`` (20 pixels a side), score 7.5 on a 0-10
scale, a calcification cluster on the first MLO instance (score 2.0, a point only), and a density
of category c. ``--record`` appends every request (headers and JSON body) as a line of JSON.

Modes: ``ok``; ``status:CODE`` (answer CODE with ``{"detail": "vendor says CODE"}``); ``garbage``
(200 with text that is not JSON); ``sleep`` (answer ``ok`` after ``--sleep`` seconds);
``bad-kind``, ``bad-score``, ``unknown-uid`` (an ``ok`` answer broken in that one way).
"""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def answer(request: dict[str, Any], point: tuple[float, float], mode: str) -> dict[str, Any]:
    instances = request["instances"]
    cc = next(i for i in instances if i["view"] == "CC")
    mlo = next((i for i in instances if i["view"] == "MLO"), None)
    col, row = point
    findings: list[dict[str, Any]] = [
        {
            "id": "vendor-mass-1",
            "kind": "mass",
            "laterality": cc["laterality"],
            "score": 7.5,
            "size_mm": 9.5,
            "location": {"clock": 2, "depth": "middle"},
            "marks": [
                {
                    "sop_instance_uid": cc["sop_instance_uid"],
                    "point": [col, row],
                    "bbox": [col - 10, row - 10, col + 10, row + 10],
                }
            ],
            "vendor_extra": {"ignored": True},
        }
    ]
    if mlo is not None:
        findings.append(
            {
                "kind": "calcification_cluster",
                "score": 2.0,
                "marks": [{"sop_instance_uid": mlo["sop_instance_uid"], "point": [50, 60]}],
            }
        )
    body: dict[str, Any] = {
        "findings": findings,
        "density": {
            "category": "c",
            "percent_dense": 41.0,
            "per_breast": {"L": {"category": "c", "percent_dense": 41.0}},
        },
        "score_scale": [0, 10],
    }
    if mode == "bad-kind":
        findings[0]["kind"] = "tumour"
    elif mode == "bad-score":
        findings[0]["score"] = 12.0
    elif mode == "unknown-uid":
        findings[0]["marks"][0]["sop_instance_uid"] = "1.2.3.999"
    return body


def make_handler(args: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    point = tuple(float(v) for v in args.point.split(","))

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *values: Any) -> None:  # quiet
            pass

        def _send(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            request = json.loads(raw)
            if args.record:
                with open(args.record, "a", encoding="utf-8") as f:
                    f.write(
                        json.dumps({"headers": dict(self.headers), "raw": raw.decode(), "body": request})
                        + "\n"
                    )
            mode = args.mode
            if mode.startswith("status:"):
                code = int(mode.split(":", 1)[1])
                self._send(code, json.dumps({"detail": f"vendor says {code}"}).encode())
                return
            if mode == "garbage":
                self._send(200, b"<html>internal error page</html>", "text/html")
                return
            if mode == "sleep":
                time.sleep(args.sleep)
            self._send(200, json.dumps(answer(request, point, mode)).encode())  # type: ignore[arg-type]

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="ok")
    parser.add_argument("--record", default="")
    parser.add_argument("--point", default="128,128")
    parser.add_argument("--sleep", type=float, default=5.0)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
