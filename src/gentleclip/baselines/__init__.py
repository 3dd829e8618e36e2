"""gentleclip.baselines."""
