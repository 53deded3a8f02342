"""Beacon's one way out: every call to a webhook receiver, Slack, Teams or Twilio is a
:func:`post` from here.

Customers choose these URLs, so one could aim Beacon at its own network (the cloud's
metadata service, the database, an admin port on localhost). A URL is refused unless its
scheme is http or https, it carries no credentials, and *every* address its host resolves
to is public: a private, loopback, link-local, multicast, reserved or unspecified address
(IPv6 site-local and unique-local too, and IPv6 forms that carry such an IPv4 address)
anywhere in the answer refuses it. The request then goes to the very address that was
checked, the host's name only in the ``Host`` header, TLS SNI and the certificate check,
so a DNS answer that changes in between (rebinding) reaches nothing. Only 307 and 308 are
followed, each hop through the same check, never from https to http; credentials are not
sent on to another origin.

``BEACON_ALLOW_PRIVATE_OUTBOUND`` lifts the address check (receivers on the deployment's
own network; the tests' local servers). A refusal is not worth retrying, while a timeout,
a refused or reset connection or a failed DNS lookup is. Messages name the host only:
webhook URLs carry their secret in the path.
"""

from __future__ import annotations

import dataclasses
import http.client
import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util.ssl_match_hostname import CertificateError

USER_AGENT = "Beacon/1 (+outbound)"
MAX_BODY = 64 * 1024  # bytes of a response body kept; the rest is never read
FOLLOWED = frozenset({307, 308})  # re-sent with the same body; other redirects are returned
DEFAULT_PORTS = {"http": 80, "https": 443}
# Request headers that stay with the origin they were meant for when a redirect leaves it.
CREDENTIALS = frozenset({"authorization", "proxy-authorization", "cookie"})
# What a connection, a TLS handshake or a response can fail with: the receiver's side, so
# worth another try later.
_FAILURES = (OSError, http.client.HTTPException, CertificateError, urllib3.exceptions.HTTPError)
_BLOCKING_FLAGS = (
    "is_private",
    "is_loopback",
    "is_link_local",
    "is_multicast",
    "is_reserved",
    "is_unspecified",
    "is_site_local",  # IPv6 only
)


class OutboundError(Exception):
    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclasses.dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes  # the first MAX_BODY bytes, as sent (nothing asks for compression)
    duration_ms: int  # from the call to the last response's body, redirects included
    final_url: str


@dataclasses.dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # the name: Host header, SNI, certificate
    port: int
    address: str  # the checked address connected to
    path: str

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    @property
    def host_header(self) -> str:
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == DEFAULT_PORTS[self.scheme] else f"{name}:{self.port}"


def _blocked(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether Beacon refuses to connect to the address (see the module's docstring)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return _blocked(embedded)
    return not address.is_global or any(getattr(address, flag, False) for flag in _BLOCKING_FLAGS)


def _refuse(reason: str) -> OutboundError:
    return OutboundError(f"refused: {reason}", retryable=False)


def _check(url: str) -> _Target:
    """The URL's target with the address to connect to, or :class:`OutboundError`."""
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise _refuse("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- a bad port or bracketed host raises here
    except ValueError as error:
        raise _refuse(f"not a URL ({error})") from error
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _refuse(f"{scheme or 'no'} scheme; only http and https are allowed")
    if parts.username is not None or parts.password is not None:
        raise _refuse("credentials in the URL")
    if not parts.hostname:
        raise _refuse("the URL has no host")
    if not (parts.path + parts.query).isascii():
        raise _refuse("the URL's path is not percent-encoded")
    try:
        host = parts.hostname.encode("idna").decode("ascii")
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError as error:  # a bad international name (UnicodeError), a bad port
        raise _refuse(f"{parts.hostname}: {error}") from error
    try:
        answer = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as error:
        raise OutboundError(f"cannot resolve {host}: {error}", retryable=True) from error
    addresses = [ipaddress.ip_address(info[4][0]) for info in answer]
    # Which address is not said: the message is shown to the organization.
    if not settings.BEACON_ALLOW_PRIVATE_OUTBOUND and any(map(_blocked, addresses)):
        raise _refuse(f"{host} resolves to an address that is not a public address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(url, scheme, host, port, str(addresses[0]), path)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutboundError("timed out", retryable=True)
    return left


def _read_body(response: urllib3.HTTPResponse, sock: socket.socket, deadline: float) -> bytes:
    """Up to MAX_BODY bytes; each read waits no longer than what is left of the deadline."""
    body = b""
    while len(body) < MAX_BODY and not response.closed:  # closed: read to its end
        sock.settimeout(_remaining(deadline))
        chunk = response.read1(MAX_BODY - len(body), decode_content=False)
        if not chunk:
            break
        body += chunk
    return body


def _send(
    target: _Target, *, body: bytes, headers: dict[str, str], started: float, deadline: float
) -> Response:
    """One request to the checked address. A connection rather than urllib3's pool: the
    socket stays at hand to bound each read by the deadline, and nothing retries or
    follows a redirect behind our back."""
    left = _remaining(deadline)
    if target.scheme == "https":
        connection = HTTPSConnection(
            target.address,
            target.port,
            timeout=left,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        connection = HTTPConnection(target.address, target.port, timeout=left)
    headers = {name: value for name, value in headers.items() if name.lower() != "host"}
    try:
        connection.request(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": target.host_header},
            preload_content=False,
        )
        sock = connection.sock  # the response keeps reading from it after getresponse()
        with connection.getresponse() as response:
            received = _read_body(response, sock, deadline)
    except (TimeoutError, urllib3.exceptions.TimeoutError) as error:
        raise OutboundError(f"{target.host}: timed out", retryable=True) from error
    except _FAILURES as error:
        raise OutboundError(f"{target.host}: {error}", retryable=True) from error
    finally:
        connection.close()
    return Response(
        status=response.status,
        headers={name.lower(): response.headers[name] for name in response.headers},
        body=received,
        duration_ms=int((time.monotonic() - started) * 1000),
        final_url=target.url,
    )


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout: float = 15.0,
    max_redirects: int = 3,
) -> Response:
    """POSTs ``body`` to ``url`` through the guard; ``timeout`` bounds the whole call,
    redirects included. A 307 or 308 is followed (at most ``max_redirects`` times, more is
    an error); any other answer, other redirects too, is returned as it came."""
    started = time.monotonic()
    deadline = started + timeout
    if not any(name.lower() == "user-agent" for name in headers):
        headers = {**headers, "User-Agent": USER_AGENT}
    target = _check(url)
    for _ in range(max_redirects + 1):
        response = _send(target, body=body, headers=headers, started=started, deadline=deadline)
        location = response.headers.get("location")
        if response.status not in FOLLOWED or not location:
            return response
        try:
            location = urljoin(target.url, location)
        except ValueError as error:
            raise _refuse(f"{target.host} redirected to a bad URL") from error
        if target.scheme == "https" and location.lower().startswith("http:"):
            raise _refuse(f"{target.host} redirected from https to http")
        following = _check(location)
        if following.origin != target.origin:
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIALS}
        target = following
    raise OutboundError(f"{target.host}: more than {max_redirects} redirects", retryable=False)
