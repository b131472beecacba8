"""The one error type of the platform: raised anywhere, turned into JSON in one place."""

# A 503 always says when to try again (Retry-After): the seconds when its raiser names none.
RETRY_AFTER_SECONDS = 1


class ApiError(Exception):
    """A failure the client should see: a machine code, a Chinese message, an HTTP status.

    `field` names the request field at fault, when there is one; `retry_after`, the seconds after
    which the same request may succeed (sent as `Retry-After`; every 503 has one).
    """

    def __init__(self, code: str, message: str, status: int = 400, field: str | None = None,
                 retry_after: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = RETRY_AFTER_SECONDS if retry_after is None and status == 503 else retry_after

    def to_dict(self) -> dict:
        """The body of the `{"error": ...}` envelope."""
        return {"code": self.code, "message": self.message, "field": self.field}

    def __repr__(self) -> str:
        return f"ApiError({self.code!r}, {self.message!r}, status={self.status}, field={self.field!r})"
