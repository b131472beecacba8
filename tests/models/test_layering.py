"""The data layer sits below the services: no module of models/ imports services."""

import pathlib
import re

MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"
# Read as text, not with ast.parse: CPython 3.11's parser trips over other threads' parses
# (python/cpython#106905), and an import statement is one line's start here.
IMPORT_RE = re.compile(r"^\s*(?:from\s+services(?:\.\w+)*\s+import|import\s+services\b)", re.M)


def test_models_never_import_services():
    found = [f"{path.name}: {match.group(0).strip()}" for path in sorted(MODELS.glob("*.py"))
             for match in IMPORT_RE.finditer(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_check_sees_an_import():
    assert IMPORT_RE.search("x = 1\n    from services.pii import DataCipher\n")
    assert IMPORT_RE.search("import services.operations.logsafe\n")
    assert not IMPORT_RE.search('"""see services.colours.colour_rules"""\nfrom models import cipher\n')
