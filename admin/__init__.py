"""The back office (low-code): the `Resource` declaration with its columns, searches, filters and
forms and the registry (site.py); the start-up checks with their ids (checks.py); sign-in,
password, compound switch and one generic handler set for every resource (handlers.py); the
Excel export built in an export process (export_worker.py); the side menu (menu.py); the resources
per area, one declaration per list (resources/); the pages that are not lists: investigation
imports and statistics (investigation_pages.py), blank code batches and the medical staff list
(office_pages.py), a person's colour and an appeal (risk_pages.py), risk records
(risk_record_pages.py), colour rules (rule_pages.py), venue statistics and dashboards
(venue_pages.py); templates/ and static/. Pages and resources only parse, call a service and
render."""
