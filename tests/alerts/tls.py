"""Serve a WSGI application over HTTPS from a background thread, for tests.

Real alerting clients (PagerDuty's, Opsgenie's) only speak HTTPS and verify certificates,
so tests that point them at Beacon need Beacon behind TLS with a certificate they trust:

    with serve_tls(get_wsgi_application()) as server:
        server.url      # "https://127.0.0.1:<ephemeral port>"
        server.ca_path  # PEM of the throwaway CA: SSL_CERT_FILE, ssl_ca_cert, cafile=...

The certificate comes from a throwaway `trustme` CA and names 127.0.0.1, ::1 and localhost.
Each request is handled in its own daemon thread, which uses Django's ordinary per-thread
database connections (so use `transactional_db`: the test's own transaction would be
invisible to them) and closes them when the request ends, so that none outlives the test
and blocks the test database's teardown. No access log is written.
"""

from __future__ import annotations

import contextlib
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

import trustme
from django.db import connections

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30  # seconds a client may stall a request before its thread gives up
SHUTDOWN_TIMEOUT = 10  # seconds to wait for requests still in flight at shutdown

WSGIApp = Callable[..., object]


class _RequestHandler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT

    def get_environ(self) -> dict[str, str]:
        environ = super().get_environ()
        # wsgiref derives wsgi.url_scheme from HTTPS, so Django sees request.is_secure().
        environ["HTTPS"] = "on"
        return environ

    def log_message(self, format: str, *args: object) -> None:
        """No access log."""


class _TLSWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False  # shutdown joins the request threads itself, with a bound

    def __init__(self, app: WSGIApp, ssl_context: ssl.SSLContext) -> None:
        self.ssl_context = ssl_context
        self._request_threads: list[threading.Thread] = []
        self._request_threads_lock = threading.Lock()
        super().__init__((HOST, 0), _RequestHandler)
        self.set_app(app)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self.setup_environ()

    def get_request(self) -> tuple[ssl.SSLSocket, object]:
        sock, address = super().get_request()
        sock.settimeout(REQUEST_TIMEOUT)
        # The handshake happens in the request's own thread, so that a slow or distrustful
        # client cannot hold up the accept loop.
        return self.ssl_context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def process_request(self, request, client_address) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"tls-request-{client_address}",
            daemon=True,
        )
        with self._request_threads_lock:
            self._request_threads = [t for t in self._request_threads if t.is_alive()]
            self._request_threads.append(thread)
        thread.start()

    def process_request_thread(self, request, client_address) -> None:
        try:
            try:
                request.do_handshake()
            except OSError:  # ssl.SSLError, reset, timeout: a client that does not trust us
                self.shutdown_request(request)
                return
            super().process_request_thread(request, client_address)
        finally:
            # Django's request_finished already ran close_old_connections, which keeps a
            # connection younger than CONN_MAX_AGE open; this thread is about to end, so
            # close them all, as Django's own live server does.
            connections.close_all()

    def join_request_threads(self, timeout: float) -> None:
        with self._request_threads_lock:
            threads = list(self._request_threads)
        for thread in threads:
            thread.join(timeout)


@dataclass(frozen=True)
class TLSServer:
    """A running server: where it listens and which CA its certificate chains to."""

    url: str
    host: str
    port: int
    ca_path: str
    ca: trustme.CA

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's CA (and nothing else)."""
        return ssl.create_default_context(cafile=self.ca_path)


@contextlib.contextmanager
def serve_tls(app: WSGIApp, *, ca: trustme.CA | None = None) -> Iterator[TLSServer]:
    """Serve `app` over HTTPS on 127.0.0.1 and an ephemeral port until the block exits."""
    ca = ca or trustme.CA()
    certificate = ca.issue_cert(HOST, "::1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(context)

    with tempfile.TemporaryDirectory(prefix="beacon-tls-") as directory:
        ca_path = Path(directory) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))

        server = _TLSWSGIServer(app, context)
        port = server.server_address[1]
        serving = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"tls-server-{port}",
            daemon=True,
        )
        serving.start()
        try:
            yield TLSServer(
                url=f"https://{HOST}:{port}",
                host=HOST,
                port=port,
                ca_path=str(ca_path),
                ca=ca,
            )
        finally:
            server.shutdown()  # returns once serve_forever has stopped accepting
            server.server_close()
            serving.join(SHUTDOWN_TIMEOUT)
            server.join_request_threads(SHUTDOWN_TIMEOUT)
