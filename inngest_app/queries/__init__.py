"""Query executor logic: query configs, source kinds, and how API answers are classified.

Pure apart from `fetch.SourceClient`, which performs one HTTP request through an injected client.
"""
