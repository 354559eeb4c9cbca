"""Drawing displacement fields from a flow model: ODE/SDE solvers, sample(), per-species calibration."""
