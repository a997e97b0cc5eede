"""Evaluation metrics, result files, the book's tables and figures."""
