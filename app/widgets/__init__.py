"""Qt widgets, one per file; they read and write app.state objects, never each other."""
