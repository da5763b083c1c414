"""Workspaces: a user's group of repositories and their daily contribution metrics."""
