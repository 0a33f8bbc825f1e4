"""Finescale engine: VAR-family models, next-scale sampling and jobs. Never imports Qt."""
