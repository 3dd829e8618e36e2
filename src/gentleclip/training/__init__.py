"""gentleclip.training."""
