"""Errors users see: each names the input that was wrong and what would be right."""


class NovaAvatarError(Exception):
    """Base of every error shown to a user as one line, without a traceback."""


class SettingsError(NovaAvatarError):
    """A setting from the environment or ``.env`` is out of range or malformed."""


class InputError(NovaAvatarError, ValueError):
    """A user input (feed, portrait, text, id, option) cannot be used."""


class TooLargeError(InputError):
    """An input larger than a limit allows (an image's pixels, a decompression bomb)."""


class StoreError(NovaAvatarError):
    """The artifact store could not read or write a key."""


class NotFoundError(StoreError, KeyError):
    """A key or video does not exist in the store."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else "not found"


class CorruptError(StoreError):
    """A stored object cannot be read back (truncated, not JSON, wrong shape)."""


class ConflictError(StoreError):
    """A conditional write lost a race: someone else changed the object first."""


class ProviderError(NovaAvatarError):
    """A stage provider failed after its retries."""
