"""Request ids, the per-generation JSON log, and OpenTelemetry traces (when configured)."""

from .context import RequestScope, current_scope, request_id_for, start_scope

__all__ = ["RequestScope", "current_scope", "request_id_for", "start_scope"]
