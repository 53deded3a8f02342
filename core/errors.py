"""Domain errors: raised by services, turned into a clear 4xx by the API and the portal."""


class DomainError(Exception):
    """A request that cannot be carried out as asked; answers 400 with field errors."""

    status_code = 400

    def __init__(self, message: str, *, field: str = "non_field_errors", code: str = "invalid"):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code

    def as_dict(self) -> dict[str, list[str]]:
        return {self.field: [self.message]}


class Conflict(DomainError):
    """The target's current state forbids the change; answers 409."""

    status_code = 409


class Forbidden(DomainError):
    """The actor may see the object but not do this to it; answers 403."""

    status_code = 403
