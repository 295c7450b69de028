"""Peers that benchmarks measure against, each driven in its own process."""
