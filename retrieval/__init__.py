"""Reads the index: hybrid search, filters, context expansion and citation-bound prompts."""
