"""Errors a shopper or operator can act on; their messages are shown as they are."""


class InputError(ValueError):
    """A request the assistant cannot use (empty, too long, not an image, not audio …)."""
