"""Persistence: typed SQLAlchemy models, sessions, queries, migrations and encryption at rest."""
