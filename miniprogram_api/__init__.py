"""JSON API handlers for the mini-programs, one module per role; each ends with its `routes`."""
