"""hotline's benchmarks. ``python -m bench`` runs them all and prints one table; see bench/README.md.

Every benchmark builds its own throw-away database (a SQLite file in a temporary directory, or a
fresh PostgreSQL schema on the loopback server), measures for a bounded time, and removes what it
made. Results are also written as JSON to ``bench/results/latest.json``.
"""
