"""Routing state stores: ``MemoryState`` (embedded default) and ``RedisState`` (production, shared by
several processes; every decision is one Lua script call)."""
