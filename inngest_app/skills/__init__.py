"""Skills: named AI tasks run on a user's message, their model providers, output storage and
notifications. Pure logic lives here; the functions are in `functions/skills/`."""
