"""The HTTP layer: a lean ASGI app with thin handlers; business rules live in the engine."""
