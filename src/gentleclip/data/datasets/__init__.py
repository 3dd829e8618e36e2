"""gentleclip.data.datasets."""
