"""JSON API handlers for the mini-programs, one module per role or area, each ending with its
`routes`: sign-in (auth.py, phone_auth.py), the citizen's profile (citizen.py), health code,
declarations and nearby risk (health.py), the scan flow and family (scan.py), consent and the
access log (privacy.py), appeals (appeals.py), place admins (place_admin.py), inspectors
(inspector.py), door screens (screens.py), live occupancy (occupancy.py), grids (grid.py), medical
staff (medical.py), enterprises (enterprise.py), partner systems' signed feed (partner.py); and
fields.py, the request fields several operations share."""
