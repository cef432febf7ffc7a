"""Word lists and tag sets, one module per language."""
