"""Shared page sections: one module per domain-page tab."""
