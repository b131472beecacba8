"""Back-office resources, one module per area; importing this package registers them all, in
the order the menu shows them."""

from admin.resources import residents, entries, accounts  # noqa: F401,I001
