"""风险数据 in headless Chromium: a rule change previewed by one city account and approved by a
second one (both signed in), and a risk area picked by name from the region cascade, then ended."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from models.approvals import ApprovalRequest
from models.colour import ColourRule, HealthStatus
from models.fields import utcnow
from models.risk_inputs import RiskArea
from services.accounts import admin_auth
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from tests.admin.conftest import office  # noqa: F401  (fixture)
from tests.browser.conftest import DESKTOP, guarded_page, sign_in_admin
from tests.conftest import make_person

CASCADE_MS = 20_000  # the cascade's next level comes by a request of its own: room for a loaded machine

def _signed_in(browser, office, key):  # noqa: F811
    """A fresh browser context signed in as one of the office's admins."""
    context, page = guarded_page(browser, office.base_url, DESKTOP, failed_loads_ok=True)
    _, phone, password = office.admins[key]
    sign_in_admin(page, SimpleNamespace(base_url=office.base_url, admin_phone=phone, password=password))
    return context, page


def _colour(person) -> str:
    row = HealthStatus.get_or_none(HealthStatus.subject == person.subject)
    return row.colour if row else "green"


@pytest.fixture
def accounts(office):  # noqa: F811
    for key, phone, role in (("city2", "13810000021", "city"), ("health", "13810000011", "health_city")):
        admin, password = admin_auth.create_admin(None, phone=phone, name=f"{key}账号", role=role,
                                                  region_code="410100", send_sms=False)
        office.admins[key] = (admin, phone, password)
    RiskArea.delete().execute()
    return office


def test_a_rule_change_is_previewed_then_approved_by_a_second_city_account(browser, accounts):
    person = make_person(7)
    risk_inputs.record_temperature(person, 38.2, measured_at=utcnow() - dt.timedelta(days=8))
    first_context, first = _signed_in(browser, accounts, "city")
    second_context, second = _signed_in(browser, accounts, "city2")
    try:
        first.click("nav.side a:has-text('赋码规则')")
        first.click("tr[data-code=fever] a:has-text('编辑')")
        first.fill("input[name=window_days]", "7")
        first.click("#preview")
        assert "1 人 红→绿" in first.inner_text("#impact")
        first.click("#propose")  # no reason: refused on the page, nothing proposed
        assert "请填写原因" in first.inner_text("main") and ApprovalRequest.select().count() == 0
        first.fill("input[name=reason]", "发热观察期调整为7天")
        first.click("#propose")
        first.wait_for_selector("text=已提交，等待同单位另一账号审批")
        assert ColourRule.get(ColourRule.code == "fever").window_days == 14 and _colour(person) == "red"

        second.goto(accounts.base_url + "/admin/r/approvals/?status=pending")
        second.click("table.list a:has-text('详情')")
        assert "1 人 红→绿" in second.inner_text("main")
        second.click("a:has-text('批准')")
        second.fill("input[name=remark]", "同意")
        second.click("button:has-text('确定')")
        second.wait_for_selector("text=规则已更新为第 2 版")
        assert ColourRule.get(ColourRule.code == "fever").window_days == 7 and _colour(person) == "green"

        first.goto(accounts.base_url + "/admin/rules/fever")
        assert "第 2 版" in first.inner_text("#versions")
    finally:
        first_context.close()
        second_context.close()
    assert not first.problems and not second.problems, first.problems + second.problems


def test_a_risk_area_is_picked_by_name_and_ended(browser, accounts):
    traveller = make_person(8)
    risk_inputs.record_travel(traveller, arrival_date=china_today() - dt.timedelta(days=3), origin_code="420103")
    context, page = _signed_in(browser, accounts, "health")
    try:
        page.click("nav.side a:has-text('风险地区')")
        page.click("a:has-text('新建')")
        page.select_option("select[name='region.province']", "湖北省")
        page.wait_for_selector("select[name='region.city'] option[value='武汉市']", state="attached", timeout=CASCADE_MS)
        page.select_option("select[name='region.city']", "武汉市")
        page.wait_for_selector("select[name='region.district'] option[value='江汉区']", state="attached", timeout=CASCADE_MS)
        page.select_option("select[name='region.district']", "江汉区")
        page.select_option("select[name=risk]", "high")
        page.fill("input[name=effective_from]", (china_today() - dt.timedelta(days=10)).isoformat())
        page.click("button:has-text('提交')")
        page.wait_for_selector("text=已保存")
        assert "湖北省武汉市江汉区" in page.inner_text("main") and _colour(traveller) == "yellow"

        page.click("a:has-text('结束')")
        page.fill("input[name=effective_until]", (china_today() - dt.timedelta(days=5)).isoformat())
        page.fill("input[name=reason]", "调整为低风险地区")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=已结束：湖北省武汉市江汉区")
        assert _colour(traveller) == "green"
        page.goto(accounts.base_url + "/admin/r/risk_areas/?status=ended")
        assert "湖北省武汉市江汉区" in page.inner_text("table.list") and "已结束" in page.inner_text("table.list")
    finally:
        context.close()
    assert not page.problems, page.problems
