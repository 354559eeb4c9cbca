"""Core: errors, atomic file writes, recipe loading and the version; imports nothing else of glassgen."""
