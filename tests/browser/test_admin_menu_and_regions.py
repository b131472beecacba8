"""The back office's side menu and region cascade in headless Chromium: the menu grouped by area
beside the page on a desktop and folded behind 菜单 on a phone; a region picked level by level by
name, each level filled by our own script (no inline code, no CDN: the CSP would refuse them)."""

from __future__ import annotations

from models.admin import AdminUser
from tests.admin.conftest import office  # noqa: F401  (fixture)
from tests.browser.conftest import PHONE, guarded_page

DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}


def log_in(page, office, key):  # noqa: F811
    _, phone, password = office.admins[key]
    page.goto(office.base_url + "/admin/login")
    page.fill("input[name=phone]", phone)
    page.fill("input[name=password]", password)
    page.fill("input[name=captcha]", "ABCD")
    with page.expect_navigation():
        page.click("button:has-text('登录')")
    page.wait_for_load_state("load")  # the style sheet too: before it, every element shows


def test_a_city_admin_picks_a_region_by_name_in_the_cascade(browser, office):  # noqa: F811
    context, page = guarded_page(browser, office.base_url, DESKTOP)
    try:
        log_in(page, office, "city")
        menu = page.locator("nav.side")
        assert menu.is_visible() and menu.locator("h2").all_inner_texts()[:2] == ["居民与出入", "场所与场所码"]
        assert menu.bounding_box()["x"] < 10 and menu.bounding_box()["width"] < 260  # a column on the left
        menu.locator("a:has-text('小区账号管理')").click()
        page.click("a:has-text('新建')")
        page.fill("input[name=phone]", "13600000051")
        page.fill("input[name=name]", "黄河路社区管理员")
        page.select_option("select[name=role]", "community")
        assert page.locator("select[name='region.city']").input_value() == "郑州市"  # its own, chosen already
        page.select_option("select[name='region.district']", "金水区")
        page.wait_for_selector("select[name='region.street'] option[value='经八路街道']", state="attached")
        page.select_option("select[name='region.street']", "经八路街道")
        page.wait_for_selector("select[name='region.community'] option[value='黄河路社区']", state="attached")
        page.select_option("select[name='region.community']", "黄河路社区")
        # Choosing another district empties the levels below it.
        page.select_option("select[name='region.district']", "二七区")
        page.wait_for_selector("select[name='region.street'] option[value='淮河路街道']", state="attached")
        assert page.locator("select[name='region.community'] option").count() == 1
        page.select_option("select[name='region.district']", "金水区")
        page.wait_for_selector("select[name='region.street'] option[value='经八路街道']", state="attached")
        page.select_option("select[name='region.street']", "经八路街道")
        page.wait_for_selector("select[name='region.community'] option[value='黄河路社区']", state="attached")
        page.select_option("select[name='region.community']", "黄河路社区")
        page.click("button:has-text('提交')")
        page.wait_for_selector("text=已保存")
        made = AdminUser.get(AdminUser.name == "黄河路社区管理员")
        assert made.role == "community" and made.region.code == "410105001001"
        assert "郑州市金水区经八路街道黄河路社区" in page.inner_text("main")
    finally:
        context.close()
    assert not page.problems, page.problems


def test_a_choice_made_before_the_cascade_script_ran_still_fills_the_next_level(browser, office):  # noqa: F811
    # A slow page: the cascade's (deferred) script arrives after the official chose a district.
    context, page = guarded_page(browser, office.base_url, DESKTOP)
    try:
        log_in(page, office, "city")
        page.locator("nav.side a:has-text('小区账号管理')").click()
        page.wait_for_load_state("load")  # the list's own script is in: only the form's is held below
        held = []
        page.route("**/admin/static/region_picker.js", lambda route: held.append(route))
        page.click("a:has-text('新建')")
        page.select_option("select[name='region.district']", "金水区")
        assert len(held) == 1 and page.locator("select[name='region.street'] option").count() == 1
        held[0].continue_()
        page.wait_for_selector("select[name='region.street'] option[value='经八路街道']", state="attached")
    finally:
        context.close()
    assert not page.problems, page.problems


def test_the_side_menu_folds_behind_a_button_on_a_phone(browser, office, tmp_path):  # noqa: F811
    context, page = guarded_page(browser, office.base_url, PHONE)
    try:
        log_in(page, office, "jinshui")
        menu = page.locator("nav.side")
        assert menu.is_hidden() and page.locator("label.menu-button").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        page.click("label.menu-button")
        assert menu.is_visible()
        assert menu.locator("h2").all_inner_texts() == ["居民与出入", "场所与场所码", "风险数据", "排查任务", "统计",
                                                         "账号与系统"]
        assert menu.locator("a:has-text('医护人员权限')").count() == 0  # the city's, not a district's
        page.screenshot(path=str(tmp_path / "menu-phone.png"), full_page=True)
        with page.expect_navigation():
            menu.locator("a:has-text('进出登记管理')").click()
        page.wait_for_load_state("load")
        assert page.locator("nav.side").is_hidden()  # folded again on the next page
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        # The cascade fits the phone too, its levels filled by the script.
        page.goto(office.base_url + "/admin/r/accounts/new")
        page.select_option("select[name='region.street']", "花园路街道")
        page.wait_for_selector("select[name='region.community'] option[value='农业路社区']", state="attached")
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
    finally:
        context.close()
    assert not page.problems, page.problems


def test_a_tester_reads_a_code_on_the_outbox_page_of_a_phone(browser, office):  # noqa: F811
    from services.messaging import sms

    previous = sms.provider()
    sms.use_provider(sms.DevSmsProvider(print_messages=True))
    try:
        sms.send_code("13900000077", "register")
    finally:
        sms.use_provider(previous)
    context, page = guarded_page(browser, office.base_url, PHONE)
    try:
        log_in(page, office, "jinshui")
        page.click("label.menu-button")
        with page.expect_navigation():
            page.locator("nav.side a:has-text('短信发件箱')").click()
        page.wait_for_load_state("load")
        row = page.locator("table.list tbody tr").first
        assert "139****0077" in row.inner_text() and "您的验证码为" in row.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
    finally:
        context.close()
    assert not page.problems, page.problems
