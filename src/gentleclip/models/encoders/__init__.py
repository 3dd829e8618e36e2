"""gentleclip.models.encoders."""
