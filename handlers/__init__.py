"""The HTTP layer shared by the API, the H5 pages and the back office: the handler base with the
JSON envelope, errors, body limits, sign-in and roles (base.py); which status a failure answers
(failures.py); request and response bodies as pydantic models (schema.py) and /openapi.json
(openapi.py); the Tornado application with dictionary routes and request ids (routing.py); load
shedding (shedding.py) and the 413 for oversized bodies (oversize.py); /healthz (health.py) and
/metrics (metrics.py); serving from several processes (processes.py); and the H5 pages (h5.py,
templates/h5, static/h5): the scan pages, the door screen, the live occupancy page and the
inspector's offline page."""
