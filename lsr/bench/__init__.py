"""``lsr bench``: latency, throughput, cold start, encoding speed, memory and index size, on SciFact and a synthetic corpus."""
