"""Folio: answers from your manuals, with the page they came from."""

__version__ = "0.1.0"
