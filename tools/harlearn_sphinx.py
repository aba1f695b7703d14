"""Sphinx fixes for the published book (a local extension named in _config.yml).

* sphinx-thebe 0.3.1 registers its inline configuration script twice under Jupyter Book 1.x, so
  every page declared ``const THEBE_JS_URL`` twice and the browser logged a SyntaxError
  (``tests/test_site.py`` found it). :func:`_unique_scripts` drops the repeated ``<script>``
  entries of a page, keeping the first of each (same file or same inline body, same attributes).
"""

from __future__ import annotations

from typing import Any


def _key(script: Any) -> tuple:
    attributes = getattr(script, "attributes", {}) or {}
    return (str(getattr(script, "filename", script) or ""), tuple(sorted((k, str(v)) for k, v in attributes.items())))


def _unique_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = _key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _unique_scripts, priority=900)  # after every extension added its scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
