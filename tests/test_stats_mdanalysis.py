"""glassgen.stats against MDAnalysis (an implementation nobody here wrote), on H5MD files glassgen wrote."""
import warnings

import numpy as np
import pytest

from glassgen.system.data import Trajectory
from glassgen.io.h5md import write_trajectory
from glassgen.stats import msd, rdf_partials

mda = pytest.importorskip("MDAnalysis")


def _universe(path, species):
    u = mda.Universe.empty(len(species), trajectory=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        u.load_new(str(path), format="H5MD", convert_units=False)  # glassgen writes LJ units
    u.add_TopologyAttr("type", [str(s) for s in species])
    return u


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    """A two-species random walk crossing the box faces many times, written as H5MD."""
    rng = np.random.default_rng(11)
    n, frames, box = 200, 40, 6.0
    species = (rng.random(n) < 0.25).astype(int)
    x = rng.uniform(0, box, (n, 3)) + np.cumsum(rng.normal(0, 0.25, (frames, n, 3)), axis=0)
    traj = Trajectory(species, [box] * 3, 0.5 * np.arange(frames), x)
    path = tmp_path_factory.mktemp("mda") / "walk.h5"
    write_trajectory(path, traj)
    return path, traj


def test_msd_matches_mdanalysis_einstein_msd(walk):
    from MDAnalysis.analysis.msd import EinsteinMSD
    from MDAnalysis.transformations import NoJump

    path, traj = walk
    u = _universe(path, traj.species)
    u.trajectory[0]
    u.trajectory.add_transformations(NoJump())  # MDAnalysis unwraps the folded H5MD positions itself
    for sel, species in (("all", None), ("type 1", 1)):
        ref = EinsteinMSD(u, select=sel, msd_type="xyz", fft=False).run().results.timeseries
        t, ours = msd(traj, species=species, n_lags=1000, max_origins=None)
        # every lag, every origin: the two averages are the same sum
        np.testing.assert_allclose(t, 0.5 * np.arange(1, len(ref)))
        np.testing.assert_allclose(ours, ref[1:], rtol=2e-5)  # MDAnalysis reads float32


def test_rdf_matches_mdanalysis_interrdf(walk):
    from MDAnalysis.analysis.rdf import InterRDF

    path, traj = walk
    u = _universe(path, traj.species)
    r, ours = rdf_partials(traj.positions, traj.box, traj.species, [(0, 0), (0, 1)], r_max=2.9, bins=58)
    a, b = u.select_atoms("type 0"), u.select_atoms("type 1")
    aa = InterRDF(a, a, nbins=58, range=(0.0, 2.9), exclusion_block=(1, 1)).run()
    ab = InterRDF(a, b, nbins=58, range=(0.0, 2.9)).run()
    np.testing.assert_allclose(r, aa.results.bins, rtol=1e-6)
    # MDAnalysis works on float32 positions: a distance within ~1e-6 of a bin edge may land in the
    # neighbouring bin (a 1e-4 change of one bin); normalisation slips such as N² instead of
    # N(N − 1) would show as ≥ 1/N_A ≈ 7e-3.
    np.testing.assert_allclose(ours[(0, 0)], aa.results.rdf, rtol=1e-3, atol=1e-9)
    np.testing.assert_allclose(ours[(0, 1)], ab.results.rdf, rtol=1e-3, atol=1e-9)
    assert np.abs(ours[(0, 0)][r > 1] - 1).max() < 0.5  # data really fills the bins
