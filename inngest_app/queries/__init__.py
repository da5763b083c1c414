"""Query executor logic: query configs, source kinds, credential bindings, caps, and how API
answers are classified.

Pure apart from `fetch.SourceClient`, which performs one HTTP request through the injected
guarded outbound client (`inngest_app.outbound.GuardedClient`).
"""
