"""Back-office resources, one module per area; importing this package registers them all."""

from admin.resources import accounts, entries, residents  # noqa: F401
