"""gentleclip.evaluation."""
