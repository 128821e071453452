"""Benchmark clients: each runs in a fresh process and prints one JSON line of results."""
