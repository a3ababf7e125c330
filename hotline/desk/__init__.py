"""The agent desktop: desk accounts and sessions, the desk's use cases over the router, the live-chat hub."""
