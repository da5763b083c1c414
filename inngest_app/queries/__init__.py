"""Query executor logic: query configs, source kinds, and how API answers are classified.

Pure apart from `fetch_page`, which performs one HTTP request through an injected client.
"""
