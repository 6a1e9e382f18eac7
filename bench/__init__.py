"""Benchmarks: ``python -m bench [models|training|embeddings|browser ...]`` prints tables of measured numbers."""
