"""Running the platform: logs that never hold personal data, as text or JSON lines (logsafe); the
Prometheus metrics every process of a deployment shares (metrics); the bounded thread and process
pools that keep blocking work off the event loop (pools); and the demo data `--demo` loads
(demo)."""
