"""Back-office resources, one module per area; importing this package registers them all. The side
menu lists each under the group it names (`menu_group`), in this order within a group."""

from admin.resources import residents, entries, accounts  # noqa: F401,I001
from admin.resources import venues  # noqa: F401,E402  (the venue-type pages, issue #9)
from admin.resources import investigations  # noqa: F401,E402,I001
from admin.resources import fieldwork, code_batches  # noqa: F401,E402,I001  (grids, medical staff, blank codes)
from admin.resources import approvals  # noqa: F401,E402,I001
from admin.resources import sms_outbox  # noqa: F401,E402  (development only)
from admin.resources import risk_areas  # noqa: F401,E402,I001
from admin.resources import appeals  # noqa: F401,E402,I001
from admin.resources import partners  # noqa: F401,E402  (合作方密钥, issue #19)
