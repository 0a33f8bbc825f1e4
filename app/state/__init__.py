"""Observable GUI state: the document with its undo stack, tool settings."""
