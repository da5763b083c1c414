"""The run viewer's own files (page, scripts, styles), served by `inngest_app.testing.viewer`.

The stylesheet the viewer shares with the usage dashboard, `pages.css`, stays with the
dashboard in `inngest_app.pages`.
"""
