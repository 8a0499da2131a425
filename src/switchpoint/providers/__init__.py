"""Provider modules: pure translation between canonical types and each wire format. No I/O here."""
