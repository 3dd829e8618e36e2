"""gentleclip.data."""
