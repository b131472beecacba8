"""Back-office resources, one module per area; importing this package registers them all, in
the order the menu shows them."""

from admin.resources import residents, entries, accounts  # noqa: F401,I001
from admin.resources import venues  # noqa: F401,E402  (the venue-type pages, issue #9)
from admin.resources import investigations  # noqa: F401,E402,I001
from admin.resources import approvals  # noqa: F401,E402,I001
from admin.resources import partners  # noqa: F401,E402  (合作方密钥, issue #19)
