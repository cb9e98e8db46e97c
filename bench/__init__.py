"""Benchmarks: latency, throughput and memory of the real engine (`make bench`)."""
