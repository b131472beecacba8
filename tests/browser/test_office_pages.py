"""The back-office pages of issue 20 item 5 in headless Chromium: a city admin generates a blank
code batch (a count of 0 refused on the page) and downloads its poster PDF, imports the 表4-1
medical list with a bad phone, and approves a grid whose admin then authorises a worker."""

from __future__ import annotations

import re

from PIL import PdfParser

from models.fieldwork import Grid, GridMembership
from models.medical_staff import MedicalStaff
from models.places import CodeBatch
from services.accounts import auth
from services.fieldwork import grids
from services.people import profile
from tests.admin.conftest import office  # noqa: F401  (fixture)
from tests.browser.test_admin_pages import DESKTOP, open_page, sign_in
from tests.conftest import make_id_number
from tests.fakes import xlsx_files as files


def test_a_city_admin_generates_and_prints_a_batch_and_imports_the_medical_list(browser, office, tmp_path):  # noqa: F811
    context, page = open_page(browser, office, DESKTOP)
    try:
        _, phone, password = office.admins["city"]
        sign_in(page, office.base_url, phone, password)
        page.click("nav.side a:has-text('空白码批次')")
        page.click("a:has-text('新建')")
        page.select_option("select[name=place_type]", "metro")
        page.fill("input[name=size]", "0")
        page.click("button:has-text('提交')")
        assert "每批数量应为 1 至 100,000 的整数" in page.inner_text("main")
        assert CodeBatch.select().count() == 0
        page.fill("input[name=size]", "4")
        page.select_option("select[name=district]", label="新郑市")
        page.click("button:has-text('提交')")
        page.wait_for_selector("text=已生成 4 个空白码")
        page.fill("#print-pdf input[name=purpose]", "发放至轨道站点")
        with page.expect_download() as download:
            page.click("#print-pdf button")
        pdf = PdfParser.PdfParser(buf=open(download.value.path(), "rb").read())
        assert len(pdf.pages) == 4 and PdfParser.decode_text(pdf.info[b"Subject"]).endswith("用途：发放至轨道站点")
        page.click("a:has-text('返回列表')")
        row = page.locator("table.list tbody tr").first.inner_text()
        assert "地铁站" in row and "新郑市" in row and "4" in row

        sheet = tmp_path / "表4-1.xlsx"
        sheet.write_bytes(files.workbook_bytes(("序号", "姓名", "联系电话", "单位名称", "职位"), [
            (1, "刘医生", "13900000002", "郑州大学第一附属医院", "主治医师"),
            (2, "王医生", "1390000000", "郑州市第七人民医院", "医师")]))
        page.click("nav.side a:has-text('导入医护人员名单')")
        page.set_input_files("input[name=file]", str(sheet))
        page.click("button:has-text('导入')")
        result = page.inner_text("#import-result")
        assert "开通 1 人" in result and "失败 1 行" in result and "联系电话" in result
        assert [s.phone for s in MedicalStaff.select()] == ["13900000002"]
        page.click("a:has-text('返回医护人员权限')")
        assert "刘*" in page.inner_text("table.list")
        assert not page.errors
    finally:
        context.close()


def test_a_grid_is_approved_and_its_admin_authorises_a_worker(browser, office, sms):  # noqa: F811
    admin = auth.sign_in("dev", "grid-admin-b").account
    profile.update_profile(admin, {"name": "钱网格", "id_number": make_id_number(801), "phone": "13700000031"})
    grid = grids.create_grid(admin, {"region_code": "410105002001", "name": "农业路社区二网格"})
    worker = auth.sign_in("dev", "grid-worker-b").account
    profile.update_profile(worker, {"name": "郑网格员", "id_number": make_id_number(802), "phone": "13700000032"})
    grids.bind_grid(worker, grid.declaration_code)
    context, page = open_page(browser, office, DESKTOP)
    try:
        _, phone, password = office.admins["city"]
        sign_in(page, office.base_url, phone, password)
        page.click("nav.side a:has-text('网格组织审核')")
        page.locator("tr", has_text="农业路社区二网格").locator("a:has-text('详情')").click()
        page.click("a:has-text('审核通过')")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=已为网格管理员开通网格员管理平台账号")
        assert Grid.get_by_id(grid.id).approved
        initial = re.search(r"初始密码为(\S+?)，", sms.messages[-1][2]).group(1)
        page.click("button:has-text('退出登录')")
        sign_in(page, office.base_url, "13700000031", initial)
        page.click("nav.side a:has-text('网格员授权')")
        page.locator("tr", has_text="郑*").locator("a:has-text('详情')").click()
        page.click("main .buttons a:text-is('授权')")
        page.click("button:has-text('确定')")
        page.wait_for_selector("text=已授权该网格员")
        assert GridMembership.get(GridMembership.grid == grid).status == "approved"
        assert not page.errors
    finally:
        context.close()
