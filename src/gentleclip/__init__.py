"""gentleclip: align two modalities from few pairs and plentiful unpaired data."""

__version__ = "0.1.0"
