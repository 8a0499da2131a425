"""Azure OpenAI (type `azure`): the OpenAI wire format at
{base_url}/openai/deployments/{deployment}/chat/completions?api-version=..., authenticated with an
`api-key` header. The endpoint's model name is the deployment name; `api_version` comes from the
provider config (Connection.options)."""

from __future__ import annotations

from .base import Target
from .native import json_headers
from .openai import OpenAIProvider

DEFAULT_API_VERSION = "2024-10-21"  # the current GA data-plane version


class AzureProvider(OpenAIProvider):
    """The Responses API is served at {base_url}/openai/v1/responses (Azure's v1 API: no api-version)."""

    type = "azure"
    serves_responses = True

    @property
    def api_version(self) -> str:
        return str(self.connection.options.get("api_version") or DEFAULT_API_VERSION)

    def headers(self) -> dict[str, str]:
        return json_headers(self.connection, "api-key")

    def url(self, path: str, target: Target) -> str:
        base = self.connection.base_url.rstrip("/").removesuffix("/openai")
        if path == self.responses_path:
            return f"{base}/openai/v1{path}"
        return f"{base}/openai/deployments/{target.model}{path}?api-version={self.api_version}"
