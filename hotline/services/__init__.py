"""The service layer: every channel carries out a catalogue business through ``Services.execute``."""
