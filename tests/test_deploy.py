"""The production profile passes Django's deployment checklist; the API is documented offline."""

from __future__ import annotations

import os
import re
import secrets
import string
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
# Only what a process needs to run; none of the Beacon/Django settings of the caller leak in.
_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def _secret_key() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(64))


@pytest.fixture
def production_env(tmp_path):
    env = {key: os.environ[key] for key in _PASSTHROUGH if key in os.environ}
    env.update(
        DEBUG="0",
        BEACON_HTTPS="1",
        SECRET_KEY=_secret_key(),
        ALLOWED_HOSTS="beacon.example.com",
        BEACON_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONDONTWRITEBYTECODE="1",
    )
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _output(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


class TestCheckDeploy:
    def test_production_profile_passes(self, production_env, tmp_path):
        result = check_deploy(production_env)

        assert result.returncode == 0, _output(result)
        assert "no issues" in result.stdout, _output(result)
        # The given SECRET_KEY is used: no per-installation key file was written.
        assert not (tmp_path / "secret_key").exists()

    def test_without_https_it_warns(self, production_env):
        del production_env["BEACON_HTTPS"]

        result = check_deploy(production_env)

        assert result.returncode != 0, _output(result)
        output = result.stdout + result.stderr
        for check_id in ("security.W004", "security.W008", "security.W012", "security.W016"):
            assert check_id in output, _output(result)

    def test_debug_on_fails(self, production_env):
        production_env["DEBUG"] = "1"

        result = check_deploy(production_env)

        assert result.returncode != 0, _output(result)
        assert "security.W018" in result.stdout + result.stderr, _output(result)

    def test_weak_secret_key_fails(self, production_env):
        production_env["SECRET_KEY"] = "short"

        result = check_deploy(production_env)

        assert result.returncode != 0, _output(result)
        assert "security.W009" in result.stdout + result.stderr, _output(result)


@pytest.mark.django_db
class TestApiDocumentation:
    def test_schema_is_openapi_3(self, client):
        response = client.get("/api/schema/", {"format": "json"})

        assert response.status_code == 200, response.content[:500]
        schema = response.json()
        assert schema["openapi"].startswith("3.")
        assert schema["info"]["title"] == "Beacon API"
        assert "/api/v1/orgs/{org}/teams/" in schema["paths"]
        assert "/api/v1/orgs/{org}/teams/{team}/members/" in schema["paths"]

    def test_schema_documents_the_bearer_scheme(self, client):
        schema = client.get("/api/schema/", {"format": "json"}).json()

        schemes = schema["components"]["securitySchemes"]
        bearer = [
            name
            for name, scheme in schemes.items()
            if scheme.get("type") == "http" and scheme.get("scheme") == "bearer"
        ]
        assert bearer, schemes
        teams = schema["paths"]["/api/v1/orgs/{org}/teams/"]["get"]
        assert any(bearer[0] in requirement for requirement in teams["security"]), teams

    def test_schema_default_is_yaml(self, client):
        response = client.get("/api/schema/")

        assert response.status_code == 200
        assert response.content.startswith(b"openapi: 3.")

    def test_docs_use_only_local_assets(self, client):
        response = client.get("/api/docs/")

        assert response.status_code == 200
        html = response.content.decode()
        assert "cdn.jsdelivr" not in html
        assert "unpkg.com" not in html
        sources = re.findall(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)=["']([^"']+)""", html)
        assert any(src.endswith("swagger-ui-bundle.js") for src in sources), sources
        assert any(src.endswith("swagger-ui.css") for src in sources), sources
        for src in sources:
            parts = urlsplit(src)
            assert not parts.scheme, f"off-host asset {src}"
            assert not parts.netloc, f"off-host asset {src}"
            assert src.startswith(("/static/", "/api/docs/?script")), src
        # No inline script: the start-up script is a file of its own, so CSP needs none.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html

    def test_docs_assets_are_served(self, client):
        # Every referenced asset exists under the static files (nothing 404s offline).
        from django.contrib.staticfiles import finders

        html = client.get("/api/docs/").content.decode()
        sources = re.findall(r"""<(?:script|link)\b[^>]*?\b(?:src|href)=["']([^"']+)""", html)
        for src in sources:
            if src.startswith("/api/docs/?script"):
                script = client.get(src)
                assert script.status_code == 200
                assert "SwaggerUIBundle" in script.content.decode()
                continue
            assert finders.find(src.removeprefix("/static/")), src
