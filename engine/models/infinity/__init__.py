"""Infinity (FoundationVision) and VAREdit (HiDream-ai): BSQ VAE, bitwise transformer, SAR."""
