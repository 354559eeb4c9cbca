"""The physical system: data model (Snapshot, Trajectory, Ensemble), periodic geometry, the Kob-Andersen potential, overlaps."""
