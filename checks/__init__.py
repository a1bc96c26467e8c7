"""The built-in check pack: one check per row of the catalog.

Registered through the entry point ``amlaudit.checks: builtin = checks``, exactly
as a third-party pack would be; `CHECKS` fixes the catalog order.
"""

from checks.storage import storage_trusted_services

CHECKS = [
    storage_trusted_services,
]
