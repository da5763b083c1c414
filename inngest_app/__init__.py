"""inngest-app: the company's background work, served as Inngest functions."""

__version__ = "0.1.0"
