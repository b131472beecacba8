"""The appeal queue in headless Chromium (D9): a district CDC official opens 健康码申诉, accepts one
appeal with a proposed correction and rejects another with an answer; the citizens read the
outcome through listMyAppeals."""

from __future__ import annotations

from models.approvals import ApprovalRequest
from models.corrections import ColourAppeal
from services.accounts import admin_auth
from services.common.timefmt import china_today
from services.risk_data import risk_inputs
from tests.admin.conftest import office  # noqa: F401  (fixture)
from tests.browser.test_admin_pages import DESKTOP, open_page
from tests.conftest import ApiClient, make_id_number


def _appellant(office, n: int, name: str, reason: str) -> ApiClient:  # noqa: F811
    number = make_id_number(n, region="410105")
    risk_inputs.add_close_contacts([{"name": name, "id_number": number, "listed_on": china_today()}],
                                   source="市疾控密接名单")
    client = ApiClient(office.base_url)
    client.dev_login(f"appellant-{n}")
    client.ok("updateProfile", {"name": name, "id_number": number, "phone": f"139000000{n:02d}"})
    client.appeal = client.ok("submitColourAppeal", {"reason": reason})
    return client


def _open_appeal(page, office, reason: str) -> None:  # noqa: F811
    page.goto(office.base_url + "/admin/r/appeals/?status=open")
    page.locator("table.list tbody tr", has_text=reason).locator("a:has-text('详情')").click()
    page.wait_for_selector("h1:has-text('详情')")


def test_an_official_accepts_one_appeal_and_rejects_another(browser, office):  # noqa: F811
    ColourAppeal.delete().execute()  # the demo's appeal: the queue holds this test's two
    first = _appellant(office, 41, "张误登", "我当天不在该场所，登记有误")
    second = _appellant(office, 42, "李确认", "请尽快恢复绿码")
    context, page = open_page(browser, office, DESKTOP)
    try:
        # 金水区's CDC: it owns the close-contact list, so it may propose withdrawing an entry.
        phone = "13810000011"
        _, password = admin_auth.create_admin(None, phone=phone, name="金水疾控", role="cdc_district",
                                              region_code="410105", send_sms=False)
        page.goto(office.base_url + "/admin/login")
        page.fill("input[name=phone]", phone)
        page.fill("input[name=password]", password)
        page.fill("input[name=captcha]", "ABCD")
        page.click("button:has-text('登录')")
        page.wait_for_load_state()
        page.click("nav.side a:has-text('健康码申诉')")
        page.wait_for_selector("h1:has-text('健康码申诉')")
        rows = page.locator("table.list tbody tr")
        assert rows.count() == 2 and "待处理" in rows.first.inner_text()

        _open_appeal(page, office, "登记有误")
        assert page.locator("#person-link").is_visible()
        page.click("a.button:has-text('受理并提交更正')")
        choice = page.locator("select[name=choice] option", has_text="撤销密切接触者名单记录")
        page.select_option("select[name=choice]", choice.get_attribute("value"))
        page.fill("input[name=reason]", "核实为误登记")
        page.click("button:has-text('确定')")
        page.wait_for_selector("p.notice")
        assert "等待同单位另一账号审批" in page.locator("p.notice").inner_text()
        assert "已受理" in page.locator("dl.fields").first.inner_text()

        _open_appeal(page, office, "恢复绿码")
        page.click("a.button:has-text('驳回')")
        page.click("button:has-text('确定')")  # no answer: refused, shown on the form
        page.wait_for_selector(".error")
        assert "请填写驳回理由" in page.locator(".error").first.inner_text()
        page.fill("input[name=answer]", "经核实确为密接，请配合隔离")
        page.click("button:has-text('确定')")
        page.wait_for_selector("p.notice")
        assert "已驳回" in page.locator("dl.fields").first.inner_text()
        assert page.errors == []
    finally:
        context.close()

    accepted = first.ok("listMyAppeals")["items"][0]
    assert (accepted["status"], accepted["correction"]) == ("accepted", "更正待审批")
    rejected = second.ok("listMyAppeals")["items"][0]
    assert (rejected["status"], rejected["answer"]) == ("rejected", "经核实确为密接，请配合隔离")
    assert ApprovalRequest.select().where(ApprovalRequest.kind == "withdraw_entry").count() == 1
