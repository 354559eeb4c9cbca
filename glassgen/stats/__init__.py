"""MD statistics: the yardstick for generated trajectories (definitions in docs/statistics.md).

Functions take a :class:`glassgen.Trajectory` (time-origin averages over log-spaced lags)
or a :class:`glassgen.Ensemble` (averages over runs at its lag times); the ``*_samples``
and raw-array helpers take (..., N, D) displacement arrays directly.
"""
from glassgen.stats.dynamics import (DEFAULT_Q, OVERLAP_A, alpha2_from_moments, chi4_from_overlap, curves, diffusion_constant, displacement_curves,
                       fs_samples, isotropic_kernel, moments_samples, msd, msd_samples, non_gaussian, overlap_chi4,
                       overlap_samples, radial_density, self_intermediate_scattering, species_mask, tau_alpha,
                       van_hove)
from glassgen.stats.lags import trajectory_lags
from glassgen.stats.propensity import (BOTAN_R0, botan_edges, bond_breaking_samples, edge_change_samples, edge_target,
                         initial_pairs, mobility_correlation, pair_distances, pearson, propensity,
                         propensity_from_displacements, spearman)
from glassgen.stats.structure import (closest_pairs, configuration_energy, coordination, first_peak, rdf, rdf_partials,
                        structure_factor, structure_factor_from_rdf)
from glassgen.stats.uncertainty import bootstrap_se, expected_correlation, floor_scale, half_splits, wasserstein1

__all__ = [
    "DEFAULT_Q", "OVERLAP_A", "BOTAN_R0",
    "alpha2_from_moments", "chi4_from_overlap", "curves", "diffusion_constant", "displacement_curves", "fs_samples", "isotropic_kernel",
    "moments_samples", "msd", "msd_samples", "non_gaussian", "overlap_chi4", "overlap_samples", "radial_density",
    "self_intermediate_scattering", "species_mask", "tau_alpha", "trajectory_lags", "van_hove",
    "botan_edges", "bond_breaking_samples", "edge_change_samples", "edge_target", "initial_pairs",
    "mobility_correlation", "pair_distances", "pearson", "propensity", "propensity_from_displacements", "spearman",
    "closest_pairs", "configuration_energy", "coordination", "first_peak", "rdf", "rdf_partials", "structure_factor", "structure_factor_from_rdf",
    "bootstrap_se", "expected_correlation", "floor_scale", "half_splits", "wasserstein1",
]
