"""Stripe: webhook verification, typed Stripe objects (2020-era and current shapes), the events
handed to Inngest, the state each event implies, and a small API client for what events lack."""
