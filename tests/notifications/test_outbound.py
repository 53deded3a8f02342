"""Outgoing calls against a local receiver: what comes back, what arrives, redirects and
timeouts; and the guard, which refuses every non-public address before anything is sent."""

from __future__ import annotations

import contextlib
import dataclasses
import http.server
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import trustme

from notifications import outbound
from notifications.outbound import MAX_BODY, OutboundError, post
from tests.servers import free_port

TIMEOUT = 0.3


@dataclasses.dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(Received(self.path, headers, self.rfile.read(length)))
        url = urlsplit(self.path)
        getattr(self, "route_" + url.path.strip("/"))(parse_qs(url.query))

    def answer(self, status, body=b"", **headers):
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def route_ok(self, query):
        self.answer(200, b"received", X_Receiver="beacon-test", Content_Type="text/plain")

    def route_307(self, query):
        self.answer(307, Location="/ok")

    def route_302(self, query):
        self.answer(302, Location="/ok")

    def route_to(self, query):
        self.answer(307, Location=query["url"][0])

    def route_loop(self, query):
        self.answer(307, Location="/loop")

    def route_big(self, query):
        self.answer(200, b"x" * (MAX_BODY + 4096))

    def route_slow(self, query):
        time.sleep(1)
        self.answer(200, b"late")

    def route_trickle(self, query):
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        for _ in range(100):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)

    def log_message(self, format, *args):
        """No access log."""


class Receiver(http.server.ThreadingHTTPServer):
    block_on_close = False  # a slow route's thread may outlive the test

    def __init__(self, tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
        self.received: list[Received] = []
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, 0), Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)

    def server_bind(self):
        # HTTPServer.server_bind would look up the host's FQDN; nothing here needs it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        """A client that gave up (the timeout tests) is expected."""

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.server_port}{path}"

    @property
    def paths(self) -> list[str]:
        return [request.path for request in self.received]


@contextlib.contextmanager
def serving(tls: ssl.SSLContext | None = None, host: str = "127.0.0.1"):
    server = Receiver(tls, host)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def receiver():
    with serving() as server:
        yield server


@pytest.fixture(autouse=True)
def guarded(settings):
    """The guard is on, as in production, whatever the environment says."""
    settings.BEACON_ALLOW_PRIVATE_OUTBOUND = False


@pytest.fixture
def allow_private(settings):
    settings.BEACON_ALLOW_PRIVATE_OUTBOUND = True


class Answers(dict):
    """name -> [address, …] ([]: no such name); ``asked``: the names looked up, in order."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []


@pytest.fixture
def dns(monkeypatch):
    """dns[name] = [address, …]: what getaddrinfo answers for the name; other names
    resolve as usual."""
    answers = Answers()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        answers.asked.append(host)
        if host not in answers:
            return real(host, port, *args, **kwargs)
        if not answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def tls(monkeypatch, tmp_path):
    """tls(name) -> a server context with a certificate for the name, from a CA that the
    client trusts for the test."""
    ca = trustme.CA()
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))

    def context(name):
        server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(name).configure_cert(server_context)
        return server_context

    return context


def send(url, **options):
    return post(url, body=options.pop("body", b"{}"), headers=options.pop("headers", {}), **options)


def test_an_answer_comes_back_with_its_status_headers_and_body(receiver, allow_private):
    response = send(receiver.url("/ok"))

    assert response.status == 200
    assert response.body == b"received"
    assert response.headers["x-receiver"] == "beacon-test"
    assert response.headers["content-type"] == "text/plain"
    assert response.final_url == receiver.url("/ok")
    assert 0 <= response.duration_ms < 1000
    with pytest.raises(dataclasses.FrozenInstanceError):
        response.status = 500


def test_the_body_and_headers_arrive_with_beacons_user_agent(receiver, allow_private):
    send(receiver.url("/ok?a=1"), body=b'{"id": 7}', headers={"Content-Type": "application/json"})

    [request] = receiver.received
    assert request.path == "/ok?a=1"
    assert request.body == b'{"id": 7}'
    assert request.headers["content-type"] == "application/json"
    assert request.headers["host"] == f"127.0.0.1:{receiver.server_port}"
    assert request.headers["user-agent"] == "Beacon/1 (+outbound)"


def test_a_given_user_agent_is_kept(receiver, allow_private):
    send(receiver.url("/ok"), headers={"user-agent": "Custom/2"})

    assert receiver.received[0].headers["user-agent"] == "Custom/2"


def test_the_host_header_names_the_host_while_the_checked_address_is_connected_to(
    receiver, allow_private, dns
):
    dns["hooks.example.com"] = ["127.0.0.1"]

    response = send(receiver.url("/ok", host="hooks.example.com"), headers={"Host": "evil.test"})

    assert response.status == 200
    assert receiver.received[0].headers["host"] == f"hooks.example.com:{receiver.server_port}"


def test_each_hop_is_resolved_once_and_connected_to_at_the_address_checked(
    receiver, allow_private, dns
):
    dns["hooks.example.com"] = ["127.0.0.1"]
    dns["next.example.com"] = ["127.0.0.1"]
    following = receiver.url("/ok", host="next.example.com")

    send(receiver.url(f"/to?url={following}", host="hooks.example.com"))

    assert [name for name in dns.asked if name.endswith("example.com")] == [
        "hooks.example.com",
        "next.example.com",
    ]
    assert [request.headers["host"] for request in receiver.received] == [
        f"hooks.example.com:{receiver.server_port}",
        f"next.example.com:{receiver.server_port}",
    ]


def test_an_ipv6_literal_and_an_international_name_are_named_as_http_wants(allow_private, dns):
    dns["xn--bcher-kva.example"] = ["::1"]

    with serving(host="::1") as server:
        send(f"http://[::1]:{server.server_port}/ok")
        send(f"http://bücher.example:{server.server_port}/ok")

    assert [request.headers["host"] for request in server.received] == [
        f"[::1]:{server.server_port}",
        f"xn--bcher-kva.example:{server.server_port}",
    ]


def test_a_307_is_followed_with_the_same_body(receiver, allow_private):
    response = send(receiver.url("/307"), body=b"payload")

    assert response.status == 200
    assert response.final_url == receiver.url("/ok")
    assert receiver.paths == ["/307", "/ok"]
    assert [request.body for request in receiver.received] == [b"payload", b"payload"]


def test_a_302_is_returned_as_it_came(receiver, allow_private):
    response = send(receiver.url("/302"))

    assert response.status == 302
    assert response.headers["location"] == "/ok"
    assert response.final_url == receiver.url("/302")
    assert receiver.paths == ["/302"]


def test_redirects_past_the_limit_are_an_error(receiver, allow_private):
    with pytest.raises(OutboundError) as error:
        send(receiver.url("/loop"), max_redirects=2)

    assert not error.value.retryable
    assert receiver.paths == ["/loop"] * 3


def test_credentials_are_not_sent_on_to_another_origin(receiver, allow_private, dns):
    dns["hooks.example.com"] = ["127.0.0.1"]
    elsewhere = receiver.url("/ok")  # same server, another origin (host) by name

    send(
        receiver.url(f"/to?url={elsewhere}", host="hooks.example.com"),
        headers={"Authorization": "Bearer secret", "X-Signature": "v1,abc"},
    )

    first, second = receiver.received
    assert first.headers["authorization"] == "Bearer secret"
    assert "authorization" not in second.headers
    assert second.headers["x-signature"] == "v1,abc"


def test_a_body_past_64_kib_is_cut(receiver, allow_private):
    response = send(receiver.url("/big"))

    assert response.body == b"x" * MAX_BODY


def test_a_slow_receiver_times_out_retryably(receiver, allow_private):
    started = time.monotonic()
    with pytest.raises(OutboundError) as error:
        send(receiver.url("/slow"), timeout=TIMEOUT)

    assert error.value.retryable
    assert time.monotonic() - started < 0.9


def test_the_timeout_bounds_the_whole_call_not_each_read(receiver, allow_private):
    started = time.monotonic()
    with pytest.raises(OutboundError) as error:
        send(receiver.url("/trickle"), timeout=TIMEOUT)

    assert error.value.retryable
    assert time.monotonic() - started < 0.9


def test_a_closed_port_is_retryable(allow_private):
    with pytest.raises(OutboundError) as error:
        send(f"http://127.0.0.1:{free_port()}/", timeout=TIMEOUT)

    assert error.value.retryable


def test_a_name_that_does_not_resolve_is_retryable(dns):
    dns["gone.example.com"] = []

    with pytest.raises(OutboundError) as error:
        send("https://gone.example.com/hook")

    assert error.value.retryable


def test_https_names_the_host_for_sni_and_the_certificate(allow_private, dns, tls):
    dns["hooks.example.com"] = ["127.0.0.1"]

    with serving(tls("hooks.example.com")) as server:
        response = send(server.url("/ok", host="hooks.example.com", scheme="https"))

    assert response.status == 200
    assert server.received[0].headers["host"] == f"hooks.example.com:{server.server_port}"


def test_https_refuses_a_certificate_for_another_name(allow_private, dns, tls):
    dns["hooks.example.com"] = ["127.0.0.1"]

    with serving(tls("other.example.com")) as server, pytest.raises(OutboundError):
        send(server.url("/ok", host="hooks.example.com", scheme="https"), timeout=1)

    assert server.received == []


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("http://127.0.0.1:{port}/ok", {}),
        ("http://10.0.0.1:{port}/ok", {}),
        ("http://169.254.169.254/latest/meta-data/", {}),
        ("http://[::1]:{port}/ok", {}),
        ("http://0.0.0.0:{port}/ok", {}),
        ("http://[::ffff:127.0.0.1]:{port}/ok", {}),
        ("http://[fd00::1]:{port}/ok", {}),
        ("http://localhost:{port}/ok", {}),
        ("http://hooks.example.com:{port}/ok", {"hooks.example.com": ["127.0.0.1"]}),
        ("http://hooks.example.com:{port}/ok", {"hooks.example.com": ["192.168.1.20"]}),
        (
            "http://hooks.example.com:{port}/ok",
            {"hooks.example.com": ["93.184.215.14", "127.0.0.1"]},
        ),
        (
            "http://hooks.example.com:{port}/ok",
            {"hooks.example.com": ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "fe80::1"]},
        ),
    ],
)
def test_a_non_public_address_is_refused_before_anything_is_sent(receiver, dns, url, answers):
    dns.update(answers)

    with pytest.raises(OutboundError) as error:
        send(url.format(port=receiver.server_port))

    assert not error.value.retryable
    assert error.value.message.startswith("refused:")
    assert receiver.received == []


@pytest.mark.parametrize(
    "url",
    [
        "ftp://127.0.0.1:{port}/ok",
        "file:///etc/passwd",
        "127.0.0.1:{port}/ok",
        "http://user:pass@127.0.0.1:{port}/ok",
        "http://token@127.0.0.1:{port}/ok",
        "http:///ok",
        "http://",
        "http://127.0.0.1:99999/ok",
        "http://127.0.0.1:{port}/ok?a=1 HTTP/1.1\r\nX-Injected: 1",
        "http://127.0.0.1:{port}/ünïcode",
    ],
)
def test_a_malformed_url_is_refused_before_anything_is_sent(receiver, allow_private, url):
    with pytest.raises(OutboundError) as error:
        send(url.format(port=receiver.server_port))

    assert not error.value.retryable
    assert receiver.received == []


@pytest.mark.parametrize(
    "private",
    [
        "http://127.0.0.1:{port}/ok",
        "http://[::ffff:127.0.0.1]:{port}/ok",
        "http://localhost:{port}/ok",
        "http://169.254.169.254/latest/meta-data/",
        "http://internal.example.com/admin",
    ],
)
def test_a_redirect_to_a_non_public_address_is_refused(receiver, dns, monkeypatch, private):
    dns["hooks.example.com"] = ["127.0.0.1"]
    dns["internal.example.com"] = ["10.1.2.3"]
    checked = []

    def blocked(address):  # the first hop's address passes, as a real receiver's would
        checked.append(address)
        return len(checked) > 1 and really_blocked(address)

    really_blocked = outbound._blocked
    monkeypatch.setattr(outbound, "_blocked", blocked)
    target = private.format(port=receiver.server_port)

    with pytest.raises(OutboundError) as error:
        send(receiver.url(f"/to?url={target}", host="hooks.example.com"))

    assert not error.value.retryable
    assert [path.split("?")[0] for path in receiver.paths] == ["/to"]


@pytest.mark.parametrize(
    ("address", "blocked"),
    [
        ("8.8.8.8", False),
        ("2606:4700::1111", False),
        ("::ffff:8.8.8.8", False),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("224.0.1.1", True),  # multicast
        ("240.0.0.1", True),  # reserved
        ("fec0::1", True),  # site-local
        ("fc00::1", True),  # unique-local
        ("ff0e::1", True),  # multicast
        ("::", True),
        ("::ffff:10.0.0.1", True),
        ("2002:a00:1::", True),  # 6to4 around 10.0.0.1
    ],
)
def test_which_addresses_are_blocked(address, blocked):
    assert outbound._blocked(ipaddress.ip_address(address)) is blocked


def test_https_never_redirects_to_http(allow_private, dns, tls, receiver):
    dns["hooks.example.com"] = ["127.0.0.1"]
    plain = receiver.url("/ok")

    with serving(tls("hooks.example.com")) as server, pytest.raises(OutboundError) as error:
        send(server.url(f"/to?url={quote(plain)}", host="hooks.example.com", scheme="https"))

    assert not error.value.retryable
    assert "https to http" in error.value.message
    assert receiver.received == []


@pytest.mark.parametrize("location", ["http://[::1/x", "http://host:99999/x"])
def test_a_redirect_to_a_malformed_url_is_refused(receiver, allow_private, location):
    with pytest.raises(OutboundError) as error:
        send(receiver.url(f"/to?url={quote(location)}"))

    assert not error.value.retryable
    assert len(receiver.received) == 1
