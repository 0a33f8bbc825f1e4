"""Tests of the desktop app: real widgets, offscreen."""
