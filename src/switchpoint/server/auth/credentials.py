"""The credentials the dashboard and admin API accept, built once from the config: the admin key,
the management keys (each with a role, and a team for a team-admin), the key that signs dashboard
sessions, and the OpenID Connect client when single sign-on is configured."""

from __future__ import annotations

import hashlib
import hmac

from ...accounting.keys import bearer, hash_key
from ...config import Config
from ...net.transport import Transport
from .oidc import OidcClient
from .principal import ADMIN_KEY, Principal

_SESSION_CONTEXT = b"switchpoint dashboard session v1"


class Credentials:
    def __init__(self, config: Config, transport: Transport) -> None:
        self._admin = hash_key(config.admin_key) if config.admin_key else None
        self._management = {hash_key(k.key): Principal(kind="management-key", name=k.name, role=k.effective_role,
                                                       team=k.team)
                            for k in config.management_keys}
        oidc = config.dashboard.oidc
        self.oidc = OidcClient(oidc, transport) if oidc is not None else None
        self.session_key = session_key(config)
        self.admin_key_login = config.admin_key is not None

    @property
    def configured(self) -> bool:
        """Anyone at all can sign in or call the admin API."""
        return self._admin is not None or bool(self._management) or self.oidc is not None

    def bearer(self, authorization: str | None) -> Principal | None:
        """The principal a bearer token stands for: the admin key or a management key; None otherwise
        (an API key, a wrong key, no header)."""
        token = bearer(authorization)
        if token is None:
            return None
        digest = hash_key(token)
        if self._admin is not None and hmac.compare_digest(digest, self._admin):
            return ADMIN_KEY
        return self._management.get(digest)


def session_key(config: Config) -> bytes | None:
    """The key that signs dashboard cookies, the same on every replica: derived from
    `dashboard.session_secret`, else the admin key (rotating it then ends every session, as before
    single sign-on existed), else the OpenID client secret. None: no sessions can be issued."""
    oidc = config.dashboard.oidc
    source = config.dashboard.session_secret or config.admin_key or (oidc.client_secret if oidc else None)
    if not source:
        return None
    return hmac.new(source.encode(), _SESSION_CONTEXT, hashlib.sha256).digest()
