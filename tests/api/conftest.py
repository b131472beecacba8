"""Fixtures the place-admin API tests share: the demo city's regions, a signed-in place admin and
the public place they made (a module's own fixture of the same name takes precedence)."""

import pytest

from services.common.regions import load_tree
from services.operations.demo import ZHENGZHOU
from tests.api.test_field_roles import PUBLIC, person


@pytest.fixture
def city(db):
    load_tree(ZHENGZHOU)


@pytest.fixture
def admin(api, city):
    return person(api, "admin", 1, "周管理")


@pytest.fixture
def place(admin):
    made = admin.ok("createPlace", PUBLIC)
    return {"id": made["id"], "token": made["code_url"].rsplit("/", 1)[1]}
