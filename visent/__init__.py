"""visent: an executable replication of "Visual sentiment analysis based on attention mechanism"."""

__version__ = "0.1.0"
