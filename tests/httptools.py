"""Local HTTP servers for tests: a handler base that answers in one call and keeps pytest's output clean."""

from __future__ import annotations

import http.server


class QuietHandler(http.server.BaseHTTPRequestHandler):
    def reply(self, status: int, body: bytes = b"") -> None:
        """The whole answer: status, length, body."""
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass
