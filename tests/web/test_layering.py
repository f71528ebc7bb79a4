"""The web app uses other apps through their services and selectors (and models, for types):
never their views, API modules or jobs (docs/architecture.md, "imports flow one way")."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import mindpost.web

FORBIDDEN = {"views", "web_views", "api", "tasks"}
WEB = Path(mindpost.web.__file__).parent


def _imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module name an import may bind, e.g. both `mindpost.billing` and
    `mindpost.billing.views` for `from mindpost.billing import views`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:
                yield node.lineno, f"{node.module}.{alias.name}"


def _violations(source: str) -> list[str]:
    found = []
    for line, name in _imported(ast.parse(source)):
        parts = name.split(".")
        if len(parts) >= 3 and parts[0] == "mindpost" and parts[1] != "web" and FORBIDDEN & set(parts[2:]):
            found.append(f"{line}: {name}")
    return found


def test_the_scan_catches_every_import_form() -> None:
    assert _violations("from mindpost.billing.views import plan_panel_context")
    assert _violations("from mindpost.billing import views")
    assert _violations("import mindpost.chat.api")
    assert _violations("from mindpost.notes.tasks import defer_process")
    assert _violations("def f():\n    from mindpost.posts import tasks\n")  # lazy imports count too
    assert not _violations("from mindpost.billing import selectors, services")
    assert not _violations("from mindpost.web.views import billing")


def test_web_imports_no_views_api_or_tasks_of_other_apps() -> None:
    files = sorted(WEB.rglob("*.py"))
    assert len(files) > 5
    problems = {
        str(path.relative_to(WEB)): found for path in files if (found := _violations(path.read_text(encoding="utf-8")))
    }
    assert problems == {}
