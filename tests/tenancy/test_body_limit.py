"""A real gunicorn does not read an oversized anonymous body: it answers 413 from the
declared length, while the client is still sending. (The test client cannot show this: it
hands Django the whole body at once.)"""

from __future__ import annotations

import socket
import urllib.parse

import pytest

from tests.servers import gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

FORTY_MB = 40 * 1024 * 1024
ANSWER_TIMEOUT = 5  # seconds: an answer must come while most of the body is still unsent
CSRF_COOKIE = "a" * 32  # any well-formed cookie makes the CSRF check parse the body


def _answer(sock: socket.socket) -> bytes:
    sock.settimeout(ANSWER_TIMEOUT)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pytest.fail(f"no answer within {ANSWER_TIMEOUT} s: the server is reading the body")
    return data


def _start(base: str, path: str, headers: dict[str, str]) -> socket.socket:
    address = urllib.parse.urlsplit(base)
    sock = socket.create_connection((address.hostname, address.port), timeout=ANSWER_TIMEOUT)
    lines = [f"POST {path} HTTP/1.1", f"Host: {address.hostname}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def test_an_anonymous_40_mb_multipart_body_is_refused_before_it_is_read():
    part = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * (256 * 1024)
    )
    with gunicorn(workers=1) as server:
        base, output = server.base, server.output
        for path in ("/accounts/login/", "/o/acme/incidents/1/attachments/"):
            sock = _start(
                base,
                path,
                {
                    "Content-Type": "multipart/form-data; boundary=xyz",
                    "Content-Length": str(FORTY_MB),
                    "Cookie": f"csrftoken={CSRF_COOKIE}",
                },
            )
            with sock:
                sock.sendall(part)  # a small part of the 40 MB, then wait for the answer
                answer = _answer(sock)
            assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:300], output())


def test_a_chunked_body_is_not_read():
    with gunicorn(workers=1) as server:
        base, output = server.base, server.output
        sock = _start(
            base,
            "/accounts/login/",
            {
                "Content-Type": "multipart/form-data; boundary=xyz",
                "Transfer-Encoding": "chunked",
                "Cookie": f"csrftoken={CSRF_COOKIE}",
            },
        )
        with sock:
            chunk = b"x" * (256 * 1024)
            sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")  # and never ends
            answer = _answer(sock)
        status = answer.split(b"\r\n", 1)[0]
        assert status.startswith(b"HTTP/1.1 4"), (answer[:300], output())
