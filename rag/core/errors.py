"""Errors a user can act on. The CLI prints their message without a traceback."""


class RagError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(RagError):
    """A config value, key or file is invalid."""


class ModelError(RagError):
    """A model could not be found, assembled or loaded."""


class IndexError_(RagError):
    """The index on disk is missing, locked or inconsistent."""


class IngestError(RagError):
    """One file could not be ingested; the rest of the job goes on."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
