"""VARSR (qyp2000/VARSR): super-resolution by next-scale prediction with an LR-image prefix."""
