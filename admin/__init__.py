"""The low-code back office: site registry, Resource base, generic handlers (later work)."""
