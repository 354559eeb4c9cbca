"""Generative core: paths/objectives, ODE/SDE solvers, the conditional velocity network, sampling, training."""
