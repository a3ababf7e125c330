"""The operator back end (BSS): the port every channel uses, and the reference implementation."""
