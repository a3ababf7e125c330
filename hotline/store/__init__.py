"""Persistence adapters: SQL (SQLite by default, PostgreSQL in production)."""
