"""Templates follow the layers lint-imports checks for Python: a page of a lower app
never loads the template tags of a higher one (it shows their panels through
core.panels instead)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from django.conf import settings
from django.template import engines

ROOT = Path(settings.BASE_DIR)
LOAD = re.compile(r"{%\s*load\s+([^%]+?)\s*%}")


def layers() -> dict[str, int]:
    """App -> its layer's position, top (config) first, from pyproject.toml."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [contract] = [
        c
        for c in config["tool"]["importlinter"]["contracts"]
        if c["type"] == "layers" and "containers" not in c
    ]
    return {
        app.strip(): position
        for position, layer in enumerate(contract["layers"])
        for app in layer.split("|")
    }


def template_files():
    """(owning app, path) of each project template: <app>/templates/… or templates/<app>/…"""
    for app in layers():
        for path in (ROOT / app / "templates").rglob("*.html"):
            yield app, path
    for path in (ROOT / "templates").rglob("*.html"):
        yield path.relative_to(ROOT / "templates").parts[0], path


def test_no_template_loads_the_tags_of_a_higher_or_sibling_app():
    position = layers()
    # Library name -> the app whose module defines it (Django's own map to no layer).
    owners = {
        name: module.split(".")[0] for name, module in engines["django"].engine.libraries.items()
    }
    checked = 0
    wrong = []
    for app, path in template_files():
        if app not in position:
            continue  # Django's own templates overridden (admin, registration)
        for match in LOAD.finditer(path.read_text()):
            for name in match.group(1).split():
                owner = owners.get(name)
                if owner not in position or owner == app:
                    continue
                checked += 1
                if position[owner] <= position[app]:
                    wrong.append(f"{path.relative_to(ROOT)} loads {name} ({owner})")
    assert wrong == []
    assert checked > 0  # the walk found cross-app loads to check (e.g. base.html's)
