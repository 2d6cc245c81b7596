"""Kernel microbenchmarks: the paper's attention benchmark protocol (shapes, padded lengths,
FLOP counting, timing), one adapter per attention implementation, the correctness gate, the
harness that writes the tidy CSV, and the speedup table."""
