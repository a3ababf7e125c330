"""The SMS business hall (短信营业厅): command grammar, sessions, and gateway adapters."""
