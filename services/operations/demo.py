"""Demo data for trying the system: every district and county of Zhengzhou (so a telecom list
dispatches fully), some down to compounds, and documented demo accounts. Loading twice changes
nothing."""

from __future__ import annotations

import datetime as dt

from models.corrections import ColourAppeal
from models.db import db
from models.fieldwork import Grid
from models.partners import PartnerCredential
from models.places import Place
from models.regions import Region
from models.people import Person
from models.risk_inputs import RiskArea, RiskBatch, TravelRecord
from services.accounts import admin_auth, auth
from services.colours import appeals
from services.common.regions import load_tree
from services.common.timefmt import china_today
from services.fieldwork import grids, place_admin
from services.people import identity, profile
from services.risk_data import divisions, partner_feed, risk_inputs, risk_records
from services.venues import places

# Street, community and compound codes follow the national pattern (9 and 12 digits) under the
# real district codes; the streets and communities are real names, the compounds illustrative.
ZHENGZHOU = [
    ("410000", "河南省", "province", [
        ("410100", "郑州市", "city", [
            ("410102", "中原区", "district", [
                ("410102001", "林山寨街道", "street", [
                    ("410102001001", "建设路社区", "community", [
                        ("410102001001001", "建设路1号院", "compound", [],
                         {"address": "郑州市中原区建设路1号", "latitude": 34.7573, "longitude": 113.6265}),
                        ("410102001001002", "百花小区", "compound", [],
                         {"address": "郑州市中原区百花路36号", "latitude": 34.7561, "longitude": 113.6312}),
                    ]),
                ]),
            ]),
            ("410103", "二七区", "district", [
                ("410103002", "淮河路街道", "street", [
                    ("410103002001", "兴华社区", "community", [
                        ("410103002001001", "兴华南街小区", "compound", [],
                         {"address": "郑州市二七区兴华南街12号", "latitude": 34.7245, "longitude": 113.6401}),
                    ]),
                ]),
            ]),
            ("410104", "管城回族区", "district", [
                ("410104003", "紫荆山南路街道", "street", [
                    ("410104003001", "东大街社区", "community", [
                        ("410104003001001", "东大街小区", "compound", [],
                         {"address": "郑州市管城回族区东大街88号", "latitude": 34.7552, "longitude": 113.6789}),
                    ]),
                ]),
            ]),
            ("410105", "金水区", "district", [
                ("410105001", "经八路街道", "street", [
                    ("410105001001", "黄河路社区", "community", [
                        ("410105001001001", "经八路5号院", "compound", [],
                         {"address": "郑州市金水区经八路5号", "latitude": 34.7763, "longitude": 113.6748}),
                        ("410105001001002", "黄河路小区", "compound", [],
                         {"address": "郑州市金水区黄河路21号", "latitude": 34.7801, "longitude": 113.6702}),
                    ]),
                ]),
                ("410105002", "花园路街道", "street", [
                    ("410105002001", "农业路社区", "community", [
                        ("410105002001001", "农业路花园小区", "compound", [],
                         {"address": "郑州市金水区农业路30号", "latitude": 34.7869, "longitude": 113.6850}),
                    ]),
                ]),
            ]),
            ("410106", "上街区", "district", []),
            ("410108", "惠济区", "district", [
                ("410108001", "新城街道", "street", [
                    ("410108001001", "英才社区", "community", [
                        ("410108001001001", "英才小区", "compound", [],
                         {"address": "郑州市惠济区英才街6号", "latitude": 34.8569, "longitude": 113.6166}),
                    ]),
                ]),
            ]),
            ("410122", "中牟县", "district", []),
            ("410181", "巩义市", "district", []),
            ("410182", "荥阳市", "district", []),
            ("410183", "新密市", "district", []),
            ("410184", "新郑市", "district", []),
            ("410185", "登封市", "district", []),
            # The functional zones: 410171-410173 are their statistical division codes; 郑东新区 has
            # none, so the project gives it 410190 (unused in Zhengzhou's 4101xx range).
            ("410171", "航空港区", "district", [], {"aliases": "郑州航空港经济综合实验区、郑州航空港区、航空港实验区、港区"}),
            ("410172", "高新区", "district", [], {"aliases": "郑州高新技术产业开发区、高新技术产业开发区、高新技术开发区"}),
            ("410173", "经开区", "district", [], {"aliases": "郑州经济技术开发区、经济技术开发区、经济开发区"}),
            ("410190", "郑东新区", "district", [
                ("410190001", "如意湖街道", "street", [
                    ("410190001001", "如意湖社区", "community", [
                        ("410190001001001", "如意湖畔小区", "compound", [],
                         {"address": "郑州市郑东新区如意湖东路9号", "latitude": 34.7714, "longitude": 113.7302}),
                    ]),
                ]),
            ]),
        ]),
    ]),
]

# Accounts that sign in with authDevLogin {"openid": ...} (development only).
DEMO_ACCOUNTS = {
    "demo-citizen": "no profile yet: fill it to get a health code",
    "demo-returnee": "back from Hubei 3 days ago: orange, with an open appeal (金水区's queue)",
    "demo-place-admin": "admin of 金水区政务服务中心",
    "demo-inspector": "inspector bound to 金水区政务服务中心",
    "demo-medical": "medical staff of 郑州市第一人民医院",
    "demo-grid-admin": "admin of the 黄河路社区 grid (back office: 13700000004 / the demo password)",
    "demo-contact": "on the CDC's close-contact list: red",
    "demo-neighbour": "lives in 黄河路小区, where a confirmed case is: orange",
    "demo-pharmacy": "bought fever medicine at a pharmacy: yellow",
}
# The demo's profiles: openid -> (name, first 17 digits of the ID number, phone).
DEMO_PROFILES = {
    "demo-returnee": ("李返乡", "41010519900101123", "13700000000"),
    "demo-place-admin": ("周管理", "41010519850505123", "13700000001"),
    "demo-inspector": ("吴检测", "41010519920202123", "13700000002"),
    "demo-medical": ("赵医生", "41010519800808123", "13700000003"),
    "demo-grid-admin": ("孙网格", "41010519880808123", "13700000004"),
    "demo-contact": ("钱密接", "41010519910909123", "13700000005"),
    "demo-neighbour": ("郑邻居", "41010519870707123", "13700000006"),
    "demo-pharmacy": ("冯购药", "41010519930303123", "13700000007"),
}
# The risk lists the demo puts in (services/risk_data/risk_records.py), as the CDC and the health commission
# would: kind -> (source label, who: a demo openid or the first 17 digits of an ID, other fields).
# The case lives in 黄河路小区, so its residents are orange and the compound shows in nearby risk.
DEMO_CASE_COMPOUND = "410105001001002"
DEMO_RISK_LISTS = {
    "close_contact": ("郑州市疾控中心", "demo-contact", {}),
    "case": ("郑州市疾控中心", "41010519750505123", {"name": "病例甲", "kind": "confirmed",
                                                "compound_code": DEMO_CASE_COMPOUND}),
    "fever_medicine": ("郑州市卫健委", "demo-pharmacy", {"pharmacy": "张仲景大药房（经三路店）",
                                                    "medicine": "布洛芬缓释胶囊"}),
}
# Back-office demo accounts (development data only): phone -> (name, role, region, password).
DEMO_ADMINS = {
    "13800000001": ("郑州市管理员", "city", "410100"),
    "13800000002": ("金水区管理员", "district", "410105"),
    "13800000003": ("经八路5号院管理员", "compound", "410105001001001"),
    # A second city account: rule changes wait for another account of the same organisation.
    "13800000004": ("郑州市管理员（审批）", "city", "410100"),
    # A second 金水区 account: corrections (an accepted appeal) take a second person to approve.
    "13800000015": ("金水区复核员", "district", "410105"),
    "13800001901": ("郑州市疾控中心", "cdc_city", "410100"),
}
DEMO_ADMIN_PASSWORD = "Demo@2026"
# A partner system that pushes close contacts through feedRiskRecords (its secret is printed once,
# by the run that creates it).
DEMO_PARTNER = {"name": "演示合作方（市公安局）", "kinds": ["close_contact", "key_person"], "region_code": "410100"}

# The returnee's open appeal against the orange code (in 金水区's queue: no compound is known).
DEMO_APPEAL_REASON = "我从武汉返回已做核酸检测，结果为阴性，申请复核健康码颜色"

# Key regions and risk areas the default rules read (demo values, not an official list).
DEMO_RISK_AREAS = [
    {"code": "420000", "name": "湖北省", "area_level": "province", "risk": "key", "effective_from": "2020-01-01"},
    {"code": "110106", "name": "北京市丰台区", "area_level": "district", "risk": "high", "days_ago": 7},
]


def _demo_id_number(first17: str) -> str:
    return first17 + identity.id_check_digit(first17)


def _account(openid: str):
    account = auth.sign_in("dev", openid).account
    if openid in DEMO_PROFILES and profile.self_person(account) is None:
        name, first17, phone = DEMO_PROFILES[openid]
        profile.update_profile(account, {"name": name, "id_number": _demo_id_number(first17), "phone": phone,
                                         "address": "郑州市金水区经八路5号"})
    return account


def _recode_old_zhengdong() -> None:
    """Demo databases loaded before every district was listed had 郑东新区 at 410171, which is
    航空港区's code: its subtree moves to 410190 (ids, and so everything that points at them, stay)."""
    old = Region.get_or_none((Region.code == "410171") & (Region.name == "郑东新区"))
    if old is None:
        return
    with db.atomic():
        for region in list(Region.select().where(Region.path.startswith(old.path))):
            codes = ["410190" + c[6:] if c.startswith("410171") else c for c in region.path.strip("/").split("/")]
            Region.update(code=codes[-1], path="/" + "/".join(codes) + "/").where(Region.id == region.id).execute()


def _risk_lists(accounts: dict) -> None:
    """The demo's close contact, confirmed case and pharmacy purchase, each once."""
    neighbour = profile.self_person(accounts["demo-neighbour"])
    compound, city = Region.get(Region.code == DEMO_CASE_COMPOUND), Region.get(Region.code == "410100")
    if neighbour.compound_id != compound.id:
        Person.update(compound=compound).where(Person.id == neighbour.id).execute()
    for kind, (label, who, extra) in DEMO_RISK_LISTS.items():
        if RiskBatch.select().where((RiskBatch.kind == kind) & (RiskBatch.source_ref == f"demo:{kind}")).exists():
            continue
        number = profile.self_person(accounts[who]).id_number if who in accounts else _demo_id_number(who)
        risk_records.ingest(kind, [{"id_number": number, "date": china_today(), **extra}], source_label=label,
                            source_ref=f"demo:{kind}", listed_on=china_today(), region=city)


def load() -> dict:
    """Load the demo regions, risk areas, places and accounts; return what the banner shows."""
    _recode_old_zhengdong()
    regions = load_tree(ZHENGZHOU)
    divisions.install()  # the country's provinces, cities and districts, for the risk areas
    if not RiskArea.select().exists():
        for area in DEMO_RISK_AREAS:
            area = dict(area)
            days_ago = area.pop("days_ago", None)
            if days_ago is not None:
                area["effective_from"] = china_today() - dt.timedelta(days=days_ago)
            region = Region.get(Region.code == area["code"])
            risk_inputs.set_risk_area(**area, region=region, prefix=divisions.area_prefix(region))
    accounts = {openid: _account(openid) for openid in DEMO_ACCOUNTS}
    returnee = profile.self_person(accounts["demo-returnee"])
    if not TravelRecord.select().where(TravelRecord.person == returnee).exists():
        risk_inputs.record_travel(returnee, arrival_date=china_today() - dt.timedelta(days=3), origin_code="420100",
                                  origin_name="湖北省武汉市", transport="high_speed_rail", transport_number="G507")
    auth.grant_role(accounts["demo-medical"], "medical", institution="郑州市第一人民医院", position="医师")
    for compound in Region.select().where(Region.level == "compound"):
        if not Place.select().where(Place.region == compound).exists():
            places.create_place(place_type_code="compound", name=compound.name, region=compound,
                                address=compound.address)
    if not Place.select().where(Place.admin == accounts["demo-place-admin"]).exists():
        place = place_admin.create_place(accounts["demo-place-admin"], {
            "region_code": "410105", "address": "郑州市金水区经三路21号", "place_type": "public_service",
            "name": "金水区政务服务中心"})
        place_admin.bind_place(accounts["demo-inspector"], place.declaration_code)
    if not Grid.select().where(Grid.admin == accounts["demo-grid-admin"]).exists():
        grid = grids.create_grid(accounts["demo-grid-admin"], {"region_code": "410105001001", "name": "黄河路社区一网格"})
        # Its admin signs in to 网格员管理平台 with the phone of its profile and the demo password.
        grids.approve_grid(grid.id, send_sms=False, password=DEMO_ADMIN_PASSWORD)
    for phone, (name, role, region) in DEMO_ADMINS.items():
        if admin_auth.find_admin(phone) is None:
            admin_auth.create_admin(None, phone=phone, name=name, role=role, region_code=region, send_sms=False,
                                    password=DEMO_ADMIN_PASSWORD)
    if not ColourAppeal.select().where(ColourAppeal.person == returnee).exists():
        appeals.submit(accounts["demo-returnee"], returnee, DEMO_APPEAL_REASON)
    _risk_lists(accounts)
    home = Place.get(Place.region == Region.get(Region.code == "410105001001001"))
    service_centre = Place.get(Place.admin == accounts["demo-place-admin"])
    return {"regions": regions, "dev_openids": list(DEMO_ACCOUNTS), "scan_token": places.current_code(home).token,
            "admin_password": DEMO_ADMIN_PASSWORD, "partner": _partner(),
            "declaration_code": service_centre.declaration_code}


def _partner() -> dict:
    """The demo partner's key id, and its secret when this load created it (never again)."""
    found = PartnerCredential.get_or_none(PartnerCredential.name == DEMO_PARTNER["name"])
    if found is not None:
        return {"key_id": found.key_id, "secret": None}
    credential, secret = partner_feed.create_credential(None, **DEMO_PARTNER)
    return {"key_id": credential.key_id, "secret": secret}
