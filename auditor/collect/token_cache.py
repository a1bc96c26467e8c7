"""One token for all SDK clients of a collection.

Each azure-mgmt-* client's authentication policy caches its own token, so eight clients
would ask the credential eight times — and several times more when threads start
together, since the policy does not serialise refreshes. For `AzureCliCredential` every
ask is an `az` process (about a second each). This wrapper shares one cached token per
request shape behind a lock; claims challenges (CAE) always go to the credential.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions

# Refresh this long before expiry, as azure-core's own policy does (DEFAULT_REFRESH_WINDOW_SECONDS).
_REFRESH_WINDOW_SECONDS = 300


class SharedTokenCredential:
    """A thread-safe caching front for any azure-identity credential."""

    def __init__(self, credential: Any) -> None:
        self._credential = credential
        self._lock = threading.Lock()
        self._tokens: dict[tuple[Any, ...], AccessTokenInfo] = {}

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        options = options or {}
        if options.get("claims"):
            return self._request(scopes, options)
        key = (scopes, options.get("tenant_id"), bool(options.get("enable_cae")))
        with self._lock:
            cached = self._tokens.get(key)
            if cached is None or _needs_refresh(cached):
                cached = self._request(scopes, options)
                self._tokens[key] = cached
            return cached

    def get_token(self, *scopes: str, claims: str | None = None, tenant_id: str | None = None,
                  enable_cae: bool = False, **kwargs: Any) -> AccessToken:
        options: TokenRequestOptions = {"enable_cae": enable_cae}
        if claims:
            options["claims"] = claims
        if tenant_id:
            options["tenant_id"] = tenant_id
        info = self.get_token_info(*scopes, options=options)
        return AccessToken(info.token, info.expires_on)

    def close(self) -> None:
        """The wrapped credential belongs to the caller; closing this wrapper leaves it open."""

    def __enter__(self) -> SharedTokenCredential:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def _request(self, scopes: tuple[str, ...], options: TokenRequestOptions) -> AccessTokenInfo:
        if hasattr(self._credential, "get_token_info"):
            return self._credential.get_token_info(*scopes, options=options)  # type: ignore[no-any-return]
        token = self._credential.get_token(*scopes, claims=options.get("claims"), tenant_id=options.get("tenant_id"),
                                           enable_cae=bool(options.get("enable_cae")))
        return AccessTokenInfo(token.token, token.expires_on)


def _needs_refresh(token: AccessTokenInfo) -> bool:
    now = time.time()
    if token.refresh_on is not None and token.refresh_on <= now:
        return True
    return token.expires_on - now < _REFRESH_WINDOW_SECONDS
