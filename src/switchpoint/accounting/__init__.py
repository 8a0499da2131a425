"""Prices and cost, key records, budgets (reservations), rate limits and the ledger writer."""
