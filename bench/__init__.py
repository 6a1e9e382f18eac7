"""Benchmarks: ``python -m bench [models|pages|embeddings|training|latency ...]`` prints tables of measured numbers."""
