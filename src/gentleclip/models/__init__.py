"""gentleclip.models."""
