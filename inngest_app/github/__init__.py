"""GitHub capture: the API client, the GraphQL documents, parsing and planning (no I/O)."""
