"""gentleclip.cli."""
