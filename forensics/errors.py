"""Errors a user can cause. The CLI turns each into one clear line on stderr and exit code 1."""


class ForensicsError(Exception):
    """A failure the user can understand and act on (bad input, missing store, ...)."""
