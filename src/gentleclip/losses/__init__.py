"""gentleclip.losses."""
