"""Azure OpenAI (type `azure`): the OpenAI wire format at
{base_url}/openai/deployments/{deployment}/chat/completions?api-version=..., authenticated with an
`api-key` header. The endpoint's model name is the deployment name; `api_version` is this type's own
setting (AzureOptions)."""

from __future__ import annotations

from pydantic import Field

from .base import ProviderOptions, Target
from .native import json_headers
from .openai import OpenAIProvider

DEFAULT_API_VERSION = "2024-10-21"  # the current GA data-plane version


class AzureOptions(ProviderOptions):
    """`providers.<name>` settings of the `azure` type, beside the common ones."""

    api_version: str = Field(DEFAULT_API_VERSION, min_length=1,
                             description="the data-plane `api-version` query parameter of every request")
    responses_api: bool = Field(True, description="Responses API requests pass through to "
                                                  "{base_url}/openai/v1/responses (false: translated to chat)")


class AzureProvider(OpenAIProvider):
    """The Responses API is served at {base_url}/openai/v1/responses (Azure's v1 API: no api-version)."""

    type = "azure"
    Options = AzureOptions  # its own, not OpenAIOptions: an openai setting does not apply here unasked
    options: AzureOptions  # type: ignore[assignment]  # its own options, deliberately not OpenAIOptions

    @property
    def api_version(self) -> str:
        return self.options.api_version

    def headers(self) -> dict[str, str]:
        return json_headers(self.connection, "api-key")

    def url(self, path: str, target: Target) -> str:
        base = self.connection.base_url.rstrip("/").removesuffix("/openai")
        if path == self.responses_path:
            return f"{base}/openai/v1{path}"
        return f"{base}/openai/deployments/{target.model}{path}?api-version={self.api_version}"
