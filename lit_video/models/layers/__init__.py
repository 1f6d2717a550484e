"""Shared building blocks of the video models (2D backbones, plain conv stacks, inflation, non-local,
ConvGRU).
"""
