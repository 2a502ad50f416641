"""Adapters: each channel parses its provider's input, calls the core, renders the replies."""
