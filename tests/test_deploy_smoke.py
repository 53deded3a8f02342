"""Deploy smoke test: README.md's "Deploying" steps on a fresh database, then real requests.

On a PostgreSQL database created for the module (and dropped after it, whatever happens),
it does what the README's "Deploying" and "PostgreSQL roles for production" sections say,
with the production profile (DEBUG=0, a SECRET_KEY of its own, BEACON_HTTPS=1 and
BEHIND_PROXY=1; the requests carry the X-Forwarded-Proto a TLS-terminating proxy adds):

1. as a superuser: the owner role and its database;
2. as the owner: ``migrate`` and ``collectstatic --noinput``;
3. as a superuser: ``setup_database_roles --app-role … --app-password …``;
4. as the app role: gunicorn (two workers), a Celery worker and beat as subprocesses, and
   the provisioning commands (``create_organization``, ``create_user``, ``create_api_key``,
   ``create_integration`` for every kind).

The HTTPS profile is on, as in production behind a TLS-terminating proxy: the requests
carry the proxy's ``X-Forwarded-Proto: https``, so secure cookies, HSTS and the redirect of
plain HTTP are exercised too.

Then, over HTTP against the served port: an event of every integration kind opens an
incident, the API creates and transitions one, the portal logs in, beat's heartbeat runs
on the worker, a 404 and a forced 500 are generic pages, and no process logged a traceback
but the forced error's. Every wait is bounded; processes are stopped and the database and
roles dropped at the end of the module even when a test fails.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

import dj_database_url
import psycopg
import pytest
from django.conf import settings
from psycopg import sql

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "beacon.example.com"
ORG = "initech"
PASSWORD = "smoke-test-password-2026"
COMMAND_TIMEOUT = 120  # seconds for one manage.py command (migrate is the longest)
START_TIMEOUT = 30  # seconds for gunicorn to answer /healthz
HEARTBEAT_TIMEOUT = 60  # beat sends the heartbeat every 30 s: it must have run by then
REQUEST_TIMEOUT = 15
STOP_TIMEOUT = 10  # seconds for a process to exit on SIGTERM before it is killed
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
KINDS = ("pagerduty", "opsgenie", "alertmanager", "generic")


# --- Processes and the database ----------------------------------------------------------


def _secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(64))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """Where the test's PostgreSQL is, and how to reach it as any role."""

    host: str
    port: int
    superuser: str
    superuser_password: str

    @classmethod
    def of_the_tests(cls) -> Server:
        """The server and role of DATABASE_URL: CI's points at a superuser (whatever role
        the suite's own connection then switches to)."""
        db = dj_database_url.parse(os.environ.get("DATABASE_URL") or settings.DATABASE_URL)
        return cls(
            host=db["HOST"] or "127.0.0.1",
            port=int(db["PORT"] or 5432),
            superuser=db["USER"] or "postgres",
            superuser_password=db["PASSWORD"] or "",
        )

    def url(self, database: str, role: str | None = None, password: str = "") -> str:
        role = role or self.superuser
        password = password if role != self.superuser else self.superuser_password
        credentials = urllib.parse.quote(role, safe="")
        if password:
            credentials += ":" + urllib.parse.quote(password, safe="")
        return f"postgres://{credentials}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.superuser,
            password=self.superuser_password or None,
            dbname=database,
            autocommit=True,
        )


@dataclass
class Deployment:
    server: Server
    database: str
    owner: str
    app_role: str
    env: dict[str, str]  # the production profile, without DATABASE_URL
    urls: dict[str, str]  # DATABASE_URL per role: owner, superuser, app
    logs: Path
    port: int = 0
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    expected_tracebacks: list[str] = field(default_factory=list)  # forced errors' paths
    keys: dict[str, str] = field(default_factory=dict)
    api_key: str = ""
    heartbeat_deadline: float = 0.0

    def manage(self, role: str, *args: str) -> str:
        """``python manage.py <args>`` with the production profile, connected as the role;
        its stdout. A failure (or a traceback) fails the test with the output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env={**self.env, "DATABASE_URL": self.urls[role]},
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        output = f"manage.py {' '.join(args[:1])} as {role}: exit {result.returncode}\n"
        output += f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        assert result.returncode == 0, output
        assert "Traceback" not in result.stdout + result.stderr, output
        return result.stdout

    def manage_together(self, *commands: tuple[str, ...]) -> list[str]:
        """Independent commands ``(role, *args)`` at the same time; their stdouts."""
        with ThreadPoolExecutor(max_workers=len(commands)) as pool:
            return list(pool.map(lambda command: self.manage(*command), commands))

    def start(self, name: str, *argv: str, **extra_env: str) -> None:
        """A long-running process as the app role, in its own process group, logging to
        logs/<name>.log."""
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        try:
            self.processes[name] = subprocess.Popen(
                [sys.executable, "-m", *argv],
                cwd=BASE_DIR,
                env={**self.env, "DATABASE_URL": self.urls["app"], **extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()  # the child has its own descriptor

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(f"===== {name} =====\n{self.log(name)[-4000:]}" for name in self.processes)

    def stop(self) -> None:
        """SIGTERM to each process group, then SIGKILL to what is left after STOP_TIMEOUT."""
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT)

    def execute(self, query: str) -> None:
        """A statement in the deployed database, as the superuser (the test's own hand)."""
        with self.server.connect(self.database) as connection:
            connection.execute(query)


def _quote(connection: psycopg.Connection, name: str) -> str:
    return sql.Identifier(name).as_string(connection)


def _literal(connection: psycopg.Connection, value: str) -> str:
    return sql.Literal(value).as_string(connection)


def _purge_broker() -> None:
    """Drops messages other tests or runs left in the broker, so the worker runs only what
    this deployment's beat sends."""
    from config.celery import app

    app.control.purge()


@pytest.fixture(scope="module")
def deployment():
    server = Server.of_the_tests()
    suffix = secrets.token_hex(4)
    database = f"beacon_smoke_{suffix}"
    owner = f"beacon_smoke_owner_{suffix}"
    app_role = f"beacon_smoke_app_{suffix}"
    owner_password, app_password = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with tempfile.TemporaryDirectory(prefix="beacon-smoke-") as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "logs").mkdir()
        env = {key: os.environ[key] for key in _PASSTHROUGH if key in os.environ}
        env.update(
            DEBUG="0",
            SECRET_KEY=_secret_key(),
            ALLOWED_HOSTS=HOST,
            BEACON_HTTPS="1",
            BEHIND_PROXY="1",
            CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
            BEACON_VAR_DIR=str(tmp_path / "var"),
            STATIC_ROOT=str(tmp_path / "static"),
            MEDIA_ROOT=str(tmp_path / "media"),
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONUNBUFFERED="1",
        )
        if os.environ.get("CACHE_URL", "").startswith("redis"):
            env["CACHE_URL"] = os.environ["CACHE_URL"]
        deployed = Deployment(
            server=server,
            database=database,
            owner=owner,
            app_role=app_role,
            env=env,
            urls={
                "owner": server.url(database, owner, owner_password),
                "superuser": server.url(database),
                "app": server.url(database, app_role, app_password),
            },
            logs=tmp_path / "logs",
        )
        with server.connect() as connection:
            connection.execute(
                f"CREATE ROLE {_quote(connection, owner)} LOGIN "
                f"PASSWORD {_literal(connection, owner_password)}"
            )
            try:
                connection.execute(
                    f"CREATE DATABASE {_quote(connection, database)} "
                    f"OWNER {_quote(connection, owner)}"
                )
                try:
                    _deploy(deployed, app_password)
                    yield deployed
                finally:
                    deployed.stop()
                    with contextlib.suppress(Exception):
                        _purge_broker()
                    connection.execute(
                        f"DROP DATABASE IF EXISTS {_quote(connection, database)} WITH (FORCE)"
                    )
            finally:
                for role in (app_role, owner):
                    connection.execute(f"DROP ROLE IF EXISTS {_quote(connection, role)}")


def _deploy(deployed: Deployment, app_password: str) -> None:
    # README "Deploying": once per release, as the owner. The two are independent (the
    # static files are collected from the code, not the database), so they overlap here.
    deployed.manage_together(("owner", "migrate"), ("owner", "collectstatic", "--noinput"))
    # README "PostgreSQL roles for production": the app role, by a superuser.
    deployed.manage(
        "superuser",
        "setup_database_roles",
        "--app-role",
        deployed.app_role,
        "--app-password",
        app_password,
    )
    # The three processes, as the app role.
    _purge_broker()
    deployed.port = _free_port()
    deployed.start(
        "web",
        *("gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"),
        *("--bind", f"127.0.0.1:{deployed.port}", "--workers", "2"),
    )
    deployed.start("worker", "celery", "-A", "config", "worker", "--concurrency", "2")
    deployed.start("beat", "celery", "-A", "config", "beat")
    # Beat sends the first heartbeat 30 s after it starts.
    deployed.heartbeat_deadline = time.monotonic() + HEARTBEAT_TIMEOUT

    # README "Provisioning from the shell", as the app role, while the processes start
    # (what does not depend on another command at the same time).
    deployed.manage("app", "create_organization", ORG, "--name", "Initech")
    integration = ("app", "create_integration", ORG, "--service", "payments", "--kind")
    _, api_key, first = deployed.manage_together(
        (
            "app",
            "create_user",
            "peter",
            "--email",
            "peter@initech.example",
            "--org",
            ORG,
            "--role",
            "owner",
            "--password",
            PASSWORD,
        ),
        ("app", "create_api_key", ORG, "--name", "Smoke", "--role", "responder"),
        (*integration, KINDS[0]),  # creates the service
    )
    others = deployed.manage_together(*((*integration, kind) for kind in KINDS[1:]))
    deployed.api_key = _last_line(api_key)
    deployed.keys = {
        kind: _last_line(out) for kind, out in zip(KINDS, [first, *others], strict=True)
    }
    _wait_until_served(deployed)


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


def _wait_until_served(deployed: Deployment) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        for name, process in deployed.processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited with {process.returncode}:\n{deployed.all_logs()}")
        try:
            if Client(deployed.port).get("/healthz").status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"gunicorn did not answer /healthz:\n{deployed.all_logs()}")
        time.sleep(0.2)


# --- HTTP -------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def __repr__(self) -> str:
        return f"<{self.status} {self.text[:600]!r}>"


class Client:
    """Requests to the served port as a TLS-terminating proxy would pass them on: the
    public host name, ``X-Forwarded-Proto: https`` and the client's address. Keeps cookies
    and never follows redirects."""

    def __init__(self, port: int, *, https: bool = True):
        self.port = port
        self.https = https
        self.cookies: dict[str, str] = {}
        self.set_cookies: dict[str, str] = {}  # each cookie's last Set-Cookie header

    def request(self, method: str, path: str, body=None, headers=None) -> Response:
        all_headers = {"Host": HOST, "X-Forwarded-For": "203.0.113.7"}
        if self.https:
            all_headers["X-Forwarded-Proto"] = "https"
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        all_headers.update(headers or {})
        if isinstance(body, dict | list):
            body = json.dumps(body).encode()
            all_headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            result = Response(response.status, response.headers, response.read())
        finally:
            connection.close()
        for header in result.headers.get_all("Set-Cookie") or []:
            cookie = SimpleCookie(header)
            for name, morsel in cookie.items():
                self.set_cookies[name] = header
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return result

    def get(self, path: str, **headers) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, body, **headers) -> Response:
        return self.request("POST", path, body=body, headers=headers)


def _api(deployed: Deployment) -> Client:
    return Client(deployed.port)


def _bearer(deployed: Deployment) -> dict[str, str]:
    return {"Authorization": f"Bearer {deployed.api_key}"}


def _incidents(deployed: Deployment) -> dict[str, dict]:
    listed = _api(deployed).get(f"/api/v1/orgs/{ORG}/incidents/?page_size=100", **_bearer(deployed))
    assert listed.status == 200, listed
    return {incident["title"]: incident for incident in listed.json()["results"]}


# --- The checks -------------------------------------------------------------------------------


def _event(kind: str, key: str) -> tuple[str, dict, dict]:
    """(path, body, headers) of one triggering event of the kind, titled "<kind> smoke"."""
    title = f"{kind} smoke"
    if kind == "pagerduty":
        body = {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": "smoke-pd",
            "payload": {"summary": title, "source": "db-1", "severity": "critical"},
        }
        return "/v2/enqueue", body, {}
    if kind == "opsgenie":
        body = {"message": title, "alias": "smoke-og", "priority": "P2"}
        return "/v2/alerts", body, {"Authorization": f"GenieKey {key}"}
    if kind == "alertmanager":
        body = {
            "version": "4",
            "groupKey": '{}:{alertname="smoke"}',
            "status": "firing",
            "receiver": "beacon",
            "groupLabels": {"alertname": title},
            "commonLabels": {"alertname": title, "severity": "warning"},
            "commonAnnotations": {},
            "externalURL": "https://alertmanager.example.com",
            "alerts": [
                {
                    "status": "firing",
                    "labels": {"alertname": title, "instance": "web-1", "severity": "warning"},
                    "annotations": {"summary": "Smoke test alert"},
                    "startsAt": "2026-03-01T12:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "5e0e5e0e5e0e0001",
                }
            ],
        }
        return f"/integrations/alertmanager/{key}/", body, {}
    body = {"action": "trigger", "dedup_key": "smoke-generic", "summary": title}
    return f"/integrations/generic/{key}/", body, {}


@pytest.mark.parametrize("kind", KINDS)
def test_an_event_of_every_integration_kind_opens_an_incident(deployment, kind):
    path, body, headers = _event(kind, deployment.keys[kind])

    answer = _api(deployment).post(path, body, **headers)

    assert answer.status == 202, f"{answer}\n{deployment.all_logs()}"
    incident = _incidents(deployment).get(f"{kind} smoke")
    assert incident is not None, _incidents(deployment)
    assert incident["source"] == "alert"
    assert incident["status"] == "new"
    assert incident["service"] == "payments"


def test_the_api_creates_and_transitions_an_incident(deployment):
    client, auth = _api(deployment), _bearer(deployment)
    base = f"/api/v1/orgs/{ORG}/incidents/"

    created = client.post(
        base,
        {"title": "Checkout is slow", "service": "payments", "impact": 2, "urgency": 1},
        **auth,
    )
    assert created.status == 201, created
    number = created.json()["number"]
    acknowledged = client.request(
        "PATCH", f"{base}{number}/", {"status": "acknowledged", "note": "Looking"}, auth
    )
    assert acknowledged.status == 200, acknowledged
    forbidden = client.request("PATCH", f"{base}{number}/", {"status": "closed"}, auth)

    assert forbidden.status == 409, forbidden
    incident = client.get(f"{base}{number}/", **auth).json()
    assert incident["status"] == "acknowledged"
    assert incident["priority"] == 2
    assert incident["acknowledged_at"]


def _submit_login(browser: Client, password: str) -> Response:
    """GET the login page, POST its form back with its CSRF token, as a browser does."""
    page = browser.get("/accounts/login/")
    assert page.status == 200, page
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token, page.text
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token.group(1), "username": "peter", "password": password}
    )
    return browser.post(
        "/accounts/login/",
        form,
        **{
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": f"https://{HOST}",
            "Referer": f"https://{HOST}/accounts/login/",
        },
    )


def _log_in(deployment) -> Client:
    browser = Client(deployment.port)
    logged_in = _submit_login(browser, PASSWORD)
    assert logged_in.status == 302, logged_in
    assert logged_in.headers["Location"] == "/"
    return browser


def test_the_portal_logs_in_over_the_production_profile(deployment):
    # A wrong password first: the form again with an error (and an audit entry), no 500.
    stranger = Client(deployment.port)
    refused = _submit_login(stranger, "not-the-password-at-all")
    assert refused.status == 200, refused
    assert 'role="alert"' in refused.text
    assert "sessionid" not in stranger.cookies

    browser = _log_in(deployment)

    index = browser.get("/")
    assert index.status == 302, index
    assert index.headers["Location"] == f"/o/{ORG}/"
    home = browser.get(f"/o/{ORG}/")
    assert home.status == 200, home
    assert "Initech" in home.text
    # The HTTPS profile: the session cookie is Secure and HttpOnly, HSTS is sent.
    session = browser.set_cookies["sessionid"]
    assert "Secure" in session
    assert "HttpOnly" in session
    assert "max-age=31536000" in home.headers["Strict-Transport-Security"]
    # The page's own stylesheet comes from collectstatic's manifest (hashed name).
    stylesheets = re.findall(r'href="(/static/[^"]+\.css)"', home.text)
    assert stylesheets, home.text
    assert all(re.search(r"\.[0-9a-f]{12}\.css$", href) for href in stylesheets), stylesheets
    assert browser.get(stylesheets[0]).status == 200


def test_plain_http_is_redirected_to_https(deployment):
    answer = Client(deployment.port, https=False).get("/accounts/login/")

    assert answer.status == 301, answer
    assert answer.headers["Location"] == f"https://{HOST}/accounts/login/"


DEBUG_MARKERS = (
    "Traceback",
    "DEBUG = True",
    "Django settings",
    "URLconf",
    "Request Method",
    "Exception Value",
    "tenancy_team",
    "permission denied",
    "ProgrammingError",
    "Internal Server Error:",
)


def _assert_generic(page: Response) -> None:
    for marker in DEBUG_MARKERS:
        assert marker not in page.text, f"{marker!r} in an error page:\n{page.text[:2000]}"


def test_a_404_is_a_generic_page(deployment):
    page = Client(deployment.port).get("/no/such/page/")

    assert page.status == 404
    _assert_generic(page)


def test_a_server_error_is_a_generic_page(deployment):
    """A 500 forced from outside the code: the database refuses the app role a table the
    page reads."""
    browser = _log_in(deployment)
    path = f"/o/{ORG}/teams/"
    assert browser.get(path).status == 200
    deployment.execute(f'REVOKE SELECT ON tenancy_team FROM "{deployment.app_role}"')
    deployment.expected_tracebacks.append(path)
    try:
        page = browser.get(path)
    finally:
        deployment.execute(f'GRANT SELECT ON tenancy_team TO "{deployment.app_role}"')

    assert page.status == 500
    _assert_generic(page)
    assert browser.get(path).status == 200


def test_a_periodic_task_from_beat_runs_on_the_worker(deployment):
    """The heartbeat: beat schedules it every 30 s, only a worker runs it, /healthz shows
    its age (null until it has run)."""
    client = Client(deployment.port)
    while True:
        health = client.get("/healthz")
        assert health.status == 200, health
        if health.json()["worker_heartbeat_age_seconds"] is not None:
            break
        if time.monotonic() > deployment.heartbeat_deadline:
            pytest.fail(f"no heartbeat: {health}\n{deployment.all_logs()}")
        time.sleep(1)
    assert health.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_a_table_the_next_release_creates_is_usable_by_the_app_role(deployment):
    """The next release's migrate runs as the owner; the app role uses its new tables
    without setup_database_roles running again."""
    with psycopg.connect(deployment.urls["owner"], autocommit=True) as owner:
        owner.execute("CREATE TABLE next_release (id bigserial PRIMARY KEY, name text)")
        try:
            with psycopg.connect(deployment.urls["app"], autocommit=True) as app:
                app.execute("INSERT INTO next_release (name) VALUES ('new')")
                assert app.execute("SELECT name FROM next_release").fetchall() == [("new",)]
        finally:
            owner.execute("DROP TABLE next_release")


_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", re.MULTILINE)


def _records_with_a_traceback(log: str) -> list[str]:
    """The first line of each log record (a line starting with a timestamp, and the lines
    up to the next one) that carries a traceback."""
    starts = [match.start() for match in _RECORD.finditer(log)]
    records = [log[a:b] for a, b in zip([0, *starts], [*starts, len(log)], strict=True)]
    return [r.splitlines()[0] for r in records if "Traceback (most recent call last)" in r]


def test_no_process_logged_a_traceback(deployment):
    """Last: the logs of everything the module did. The only tracebacks are the forced
    errors' (one record each, on the web process)."""
    for name, process in deployment.processes.items():
        log = deployment.log(name)
        expected = deployment.expected_tracebacks if name == "web" else []
        records = _records_with_a_traceback(log)
        assert len(records) == len(expected), f"===== {name} =====\n{log[-6000:]}"
        for record, path in zip(records, expected, strict=True):
            assert record.endswith(f"Internal Server Error: {path}"), record
        assert process.poll() is None, f"{name} exited:\n{log[-3000:]}"
