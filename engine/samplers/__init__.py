"""Next-scale sampling loops, one per model family."""
