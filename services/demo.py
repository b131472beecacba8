"""Demo data for trying the system: Zhengzhou's districts (from the seeds) down to compounds,
and documented demo accounts. Loading twice changes nothing."""

from __future__ import annotations

from services import auth
from services.regions import load_tree

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
            ("410171", "郑东新区", "district", [
                ("410171001", "如意湖街道", "street", [
                    ("410171001001", "如意湖社区", "community", [
                        ("410171001001001", "如意湖畔小区", "compound", [],
                         {"address": "郑州市郑东新区如意湖东路9号", "latitude": 34.7714, "longitude": 113.7302}),
                    ]),
                ]),
            ]),
        ]),
    ]),
]

# Citizens that sign in with authDevLogin {"openid": ...} (development only).
DEMO_CITIZENS = ("demo-citizen", "demo-citizen-2")


def load() -> dict:
    """Load the demo regions and accounts; return counts for the start-up banner."""
    regions = load_tree(ZHENGZHOU)
    for openid in DEMO_CITIZENS:
        auth.sign_in("dev", openid)
    return {"regions": regions, "dev_openids": list(DEMO_CITIZENS)}
