// Placeholder until the benchmark lands.
print("train-bench: not yet implemented")
