"""A real gunicorn, started the way the Procfile starts it, for tests that need one."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection

SERVER_START_TIMEOUT = 30  # seconds for gunicorn to boot and answer /healthz
REQUEST_TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_database_url() -> str:
    """The URL of the database the test runs on, as the server's DATABASE_URL."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    credentials = urllib.parse.quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        credentials += ":" + urllib.parse.quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{credentials}@{host}{port}/{db['NAME']}"


@functools.cache
def collected_static() -> str:
    """STATIC_ROOT for the servers, collected once per test run as a deploy does: with
    DEBUG=0 pages name their files through the manifest that collectstatic writes."""
    root = tempfile.mkdtemp(prefix="beacon-static-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DEBUG": "0", "STATIC_ROOT": root},
        check=True,
        timeout=300,
    )
    return root


@dataclasses.dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:<port>
    output: Callable[[], str]  # the tail of what the server wrote to stderr
    kill: Callable[[], None]  # SIGKILL at once: no graceful shutdown, no exit hooks


@contextlib.contextmanager
def gunicorn(*, workers: int = 1, env: dict[str, str] | None = None):
    """``gunicorn -c gunicorn.conf.py config.wsgi`` with sync workers on the test database;
    yields a :class:`Server`; the whole process group ends when the block exits."""
    port = free_port()
    environment = {
        **os.environ,
        "DATABASE_URL": server_database_url(),
        "DEBUG": "0",
        "BEACON_HTTPS": "0",
        "PYTHONUNBUFFERED": "1",
        "STATIC_ROOT": collected_static(),
        **(env or {}),
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)  # config.wsgi picks config.settings
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "30",
    ]
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )

        def output() -> str:
            stderr.seek(0)
            return stderr.read().decode(errors="replace")[-4000:]

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail(f"gunicorn exited with {process.returncode}:\n{output()}")
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=REQUEST_TIMEOUT).close()
                    break
                except urllib.error.HTTPError:  # 503 when the broker is down: it answers
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        pytest.fail(f"gunicorn did not answer /healthz:\n{output()}")
                    time.sleep(0.1)
            yield Server(base, output, kill)
        finally:
            # TERM first, so the master runs its exit hooks; KILL what is left.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill()
