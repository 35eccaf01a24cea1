"""YouTube OAuth client credentials as a Prefect block, an alternative to env variables.

``YOUTUBE_REFRESH_TOKEN`` (with ``YOUTUBE_CLIENT_ID``/``YOUTUBE_CLIENT_SECRET``) wins when
set; otherwise the block named by ``YOUTUBE_CREDENTIALS_BLOCK`` is loaded from the Prefect
server. Secrets stay ``SecretStr`` until google-auth builds its credentials.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from novaavatar.errors import SettingsError
from novaavatar.settings import Settings

log = logging.getLogger("novaavatar.credentials")

GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
UPLOAD_SCOPE = "https://www.googleapis.com/auth/youtube.upload"


class YouTubeCredentials(Block):
    """An OAuth client (installed app) and a refresh token allowed to upload to a channel."""

    _block_type_name = "NovaAvatar YouTube Credentials"
    _block_type_slug = "novaavatar-youtube-credentials"
    _description = (
        "OAuth client and refresh token (scope youtube.upload) for publishing approved videos; "
        "used when YOUTUBE_REFRESH_TOKEN is not set."
    )

    client_id: str = Field(description="OAuth client id, ...apps.googleusercontent.com.")
    client_secret: SecretStr = Field(description="OAuth client secret.")
    refresh_token: SecretStr = Field(
        description="Refresh token of the channel owner, granted the youtube.upload scope."
    )
    token_uri: str = Field(default=GOOGLE_TOKEN_URI, description="OAuth token endpoint.")


@dataclass(frozen=True)
class YouTubeOAuth:
    """Resolved OAuth client credentials and where they came from (for error messages)."""

    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr
    token_uri: str
    source: str  # e.g. "credentials block 'yt-main'" or "YOUTUBE_* variables"

    def secrets(self) -> tuple[str, ...]:
        return (self.client_secret.get_secret_value(), self.refresh_token.get_secret_value())


def youtube_oauth(settings: Settings) -> YouTubeOAuth | None:
    """The env variables' credentials, else the named block's, else None (YouTube is off)."""
    s = settings
    token = s.youtube_refresh_token.get_secret_value() if s.youtube_refresh_token else ""
    if token:
        secret = s.youtube_client_secret
        if not s.youtube_client_id or secret is None or not secret.get_secret_value():
            raise SettingsError(
                "YOUTUBE_REFRESH_TOKEN needs YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET "
                "(the OAuth client the token was granted to)"
            )
        return YouTubeOAuth(
            s.youtube_client_id,
            secret,
            SecretStr(token),
            s.youtube_token_uri,
            "YOUTUBE_CLIENT_ID/YOUTUBE_CLIENT_SECRET/YOUTUBE_REFRESH_TOKEN",
        )
    name = s.youtube_credentials_block
    if not name:
        return None
    try:
        block = YouTubeCredentials.load(name)
    except Exception as e:  # no server, no such block: say which and why
        raise SettingsError(
            f"YOUTUBE_CREDENTIALS_BLOCK={name!r}: could not load the YouTube credentials block "
            f"({type(e).__name__}: {e}); create it in the Prefect UI (Blocks → "
            "NovaAvatar YouTube Credentials) or unset the variable"
        ) from None
    if not isinstance(block, YouTubeCredentials):
        raise SettingsError(f"YOUTUBE_CREDENTIALS_BLOCK={name!r} is not a YouTube block")
    return YouTubeOAuth(
        block.client_id,
        block.client_secret,
        block.refresh_token,
        block.token_uri or GOOGLE_TOKEN_URI,
        f"credentials block {name!r}",
    )
