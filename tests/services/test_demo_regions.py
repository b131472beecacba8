"""The demo's regions (issue 20 item 4): every district and county of Zhengzhou with its code, so
that a demo telecom list dispatches fully; and a demo database made before keeps its data."""

from __future__ import annotations

from models.regions import Region
from services.common.regions import load_tree
from services.operations import demo


def test_the_demo_holds_every_district_and_county_of_zhengzhou(db):
    load_tree(demo.ZHENGZHOU)
    districts = {r.code: r.name for r in Region.select().where(Region.level == "district")}
    assert districts == {
        "410102": "中原区", "410103": "二七区", "410104": "管城回族区", "410105": "金水区", "410106": "上街区",
        "410108": "惠济区", "410122": "中牟县", "410181": "巩义市", "410182": "荥阳市", "410183": "新密市",
        "410184": "新郑市", "410185": "登封市", "410171": "航空港区", "410172": "高新区", "410173": "经开区",
        "410190": "郑东新区"}
    assert "郑州高新技术产业开发区" in Region.get(Region.code == "410172").aliases


def test_an_old_demo_database_keeps_its_zhengdong_compound_under_the_new_code(db):
    """Before every district was listed, the demo had 郑东新区 at 410171 (航空港区's code)."""
    load_tree([("410000", "河南省", "province", [("410100", "郑州市", "city", [
        ("410171", "郑东新区", "district", [("410171001", "如意湖街道", "street", [
            ("410171001001", "如意湖社区", "community", [("410171001001001", "如意湖畔小区", "compound", [])])])])])])])
    compound_id = Region.get(Region.code == "410171001001001").id
    demo.load()
    moved = Region.get_by_id(compound_id)
    assert (moved.code, moved.path) == ("410190001001001", "/410000/410100/410190/410190001/410190001001/410190001001001/")
    assert Region.get(Region.code == "410171").name == "航空港区"
    assert Region.select().where(Region.name == "如意湖畔小区").count() == 1
