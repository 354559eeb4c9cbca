"""The sampler's defaults, written here only (torch-free, so the command line's help can show them).

Every command, step function and check takes them from here through :class:`glassgen.SolverConfig`, or from
a checkpoint's validated settings. Heun with 8 flow-time steps is what the shipped models were validated with.
"""
METHOD = "heun"
ODE_STEPS = 8
