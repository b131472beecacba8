"""JSON text already made: a service that stores its answer as JSON (the scan's verdict) returns
that text, and the envelope embeds it as is instead of serialising the answer a second time."""


class RawJson(str):
    """A str holding one JSON value, written into the response envelope unchanged."""
