"""Repositories: one narrow module per aggregate, each a thin caller of the SQL functions."""
