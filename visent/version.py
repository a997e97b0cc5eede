"""The package's version, recorded in every result file and synthetic dataset."""

__version__ = "0.1.0"
