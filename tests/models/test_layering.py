"""The data layer sits below the services: no module of models/ imports services."""

import ast
import pathlib

MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"


def test_models_never_import_services():
    found = []
    for path in sorted(MODELS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{path.name}: {n}" for n in names if n == "services" or n.startswith("services.")]
    assert found == []
