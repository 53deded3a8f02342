"""A webhook receiver for the notifications tests: a local HTTP server that records what
it is sent and answers from a script (status, headers, body, delay), 200 once the script
runs out. Outbound calls to it are allowed (it listens on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

DEFAULT_ANSWER = (200, {}, b"", 0)


class Receiver:
    def __init__(self):
        self.received: list[dict] = []
        self.script: list[tuple] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/beacon"

    def answer(self, *answers) -> None:
        """(status, headers, body, delay) tuples, in order; shorter tuples default."""
        self.script.extend(answers)

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(
                    {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                )
                answer = receiver.script.pop(0) if receiver.script else ()
                status, headers, text, delay = (*answer, *DEFAULT_ANSWER[len(answer) :])
                time.sleep(delay)
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                payload = text or json.dumps({"ok": status < 300}).encode()
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        return Handler

    def bodies(self) -> list[dict]:
        return [json.loads(item["body"]) for item in self.received]


@pytest.fixture
def receiver(settings):
    settings.BEACON_ALLOW_PRIVATE_OUTBOUND = True
    settings.BEACON_WEBHOOK_TIMEOUT = 0.5
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
