"""README describes what exists: every API operation is named there."""

import os
import re

from config import TestConfig
from handlers.openapi import build_document
from server import api_routes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_operation_is_in_the_readme():
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    document = build_document(api_routes(TestConfig()))
    operations = {op["operationId"] for methods in document["paths"].values() for op in methods.values()}
    missing = sorted(op for op in operations if not re.search(rf"`{op}`", readme))
    assert not missing, f"README does not mention: {missing}"
