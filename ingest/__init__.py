"""Turn files into pages of clean text: sniff, parse, clean (then chunk, embed, write)."""
