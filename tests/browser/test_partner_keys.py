"""合作方密钥 in headless Chromium (D3): the city admin creates a partner key, copies the secret
shown once, the partner signs a batch with it, and after 吊销 the same key is refused."""

from __future__ import annotations

from models.partners import PartnerCredential
from tests.admin.conftest import office  # noqa: F401  (fixture)
from tests.api.test_partner_feed import Partner, batch, contact
from tests.browser.test_admin_pages import DESKTOP, log_in, open_page
from tests.conftest import assert_error


def test_create_copy_the_secret_once_then_revoke(browser, office, tmp_path):  # noqa: F811
    context, page = open_page(browser, office, DESKTOP)
    try:
        log_in(page, office, "city")
        assert page.locator("a[href='/admin/r/partner_keys/']").count() >= 1  # in the menu
        page.goto(office.base_url + "/admin/r/partner_keys/")
        page.click("a:has-text('新建')")
        page.fill("input[name=name]", "通信大数据平台")
        page.check("input[name=kind_close_contact]")
        page.click("button:has-text('提交')")
        secret_cell = page.locator("dt:has-text('密钥（仅显示这一次）') + dd")
        secret = secret_cell.inner_text().strip()
        key_id = page.locator("dt:has-text('密钥编号') + dd").first.inner_text().strip()
        page.screenshot(path=str(tmp_path / "partner-key.png"), full_page=True)
        assert len(secret) >= 40 and key_id.startswith("pk_")

        partner = Partner(office.base_url, key_id, secret)
        assert partner.send(batch("tel-1", [contact(1)])).status_code == 200

        page.reload()  # shown once: gone on the next view
        assert "已隐藏" in page.inner_text("main") and secret not in page.content()
        page.click("a:has-text('吊销')")
        page.click("button:has-text('确定')")  # no reason: refused on the page
        assert "请填写吊销原因" in page.inner_text("main")
        page.fill("input[name=reason]", "合同到期")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=密钥已吊销")
        assert "已吊销" in page.inner_text("main") and "合同到期" in page.inner_text("main")
        assert PartnerCredential.get(PartnerCredential.key_id == key_id).status == "revoked"
        assert_error(partner.send(batch("tel-2", [contact(2)])), 401, "key_revoked")
        assert not page.errors
    finally:
        context.close()
