"""lit-video: a PyTorch Lightning benchmark suite for video-understanding architectures."""

__version__ = "0.1.0"
