"""Inbound protocols: one pure translator per API a client may speak to the gateway.

Each translates between its wire format and the canonical types (types.py): the request into a
ChatRequest, the Completion and stream Deltas back into its own JSON and stream framing, and errors into
its own envelope. None does I/O and none knows the engine: the server's thin handlers call them
(auth -> parse -> engine -> render). Where the serving endpoint speaks the same format natively, the
request carries the client's body (`ChatRequest.native`) and the answer comes back raw, relayed as is.
"""
