"""Chaining draws into long-time trajectories: the chain, step functions, its log, and the Chapman-Kolmogorov check."""
