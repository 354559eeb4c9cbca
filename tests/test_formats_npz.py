"""BOTAN / GlassBench npz <-> Ensemble, including the npz -> H5MD -> npz identity."""
from __future__ import annotations

import numpy as np
import pytest
from formats_fixtures import botan_like

from glassgen.core.errors import InputError
from glassgen.io import convert, read_npz, write_npz
from glassgen.io.h5md import read_ensemble
from glassgen.system.ka import box_edge


def _save(path, arrays):
    np.savez(path, **arrays)
    return path


def test_preset_botan_box_time_and_meta(tmp_path):
    a = botan_like(n=40)
    ens = read_npz(_save(tmp_path / "isoconfig_N40T0.44_3_tc07.npz", a), preset="botan")
    np.testing.assert_allclose(ens.box, np.full(3, (40 / 1.2) ** (1 / 3)), rtol=1e-15)
    assert ens.times.tolist() == [4120.0] and ens.positions.shape == (3, 1, 40, 3)
    m = ens.meta
    assert (m["units"], m["temperature"], m["density"], m["potential"]) == ("lj", 0.44, 1.2, "kob-andersen-3d")
    assert m["assumptions"] == "box from density 1.2 (preset botan); time 4120 from GlassBench (tc07)"
    assert m["source_file"] == "isoconfig_N40T0.44_3_tc07.npz"
    np.testing.assert_array_equal(ens.displacements()[:, 0], a["positions"] - a["initial_positions"])


def test_botan_box_edge_for_4096_particles():
    assert box_edge(4096, 1.2) == pytest.approx(15.05658, abs=5e-6)  # the value in the BOTAN README


def test_explicit_box_and_time(tmp_path):
    a = botan_like(n=30, edge=4.0)
    ens = read_npz(_save(tmp_path / "x.npz", a), box="4.0", time=12.5)
    assert ens.box.tolist() == [4.0, 4.0, 4.0] and ens.times.tolist() == [12.5]
    assert ens.meta["assumptions"] == "box given by the user; time given by the user"
    ens = read_npz(tmp_path / "x.npz", box=[4.0, 4.0, 4.5], time=1.0)
    assert ens.box.tolist() == [4.0, 4.0, 4.5]


def test_npz_h5md_npz_is_identical(tmp_path):
    a = botan_like(n=50, runs=4)
    src = _save(tmp_path / "in.npz", a)
    h5 = convert(src, tmp_path / "mid.h5", preset="botan", time=7.0)
    assert read_ensemble(h5).times.tolist() == [7.0]
    out = convert(h5, tmp_path / "out.npz")
    with np.load(out) as b:
        assert sorted(b.files) == sorted(a)
        for k in a:
            assert b[k].dtype == a[k].dtype and np.array_equal(b[k], a[k]), k


def test_needs_box_and_time(tmp_path):
    src = _save(tmp_path / "x.npz", botan_like())
    with pytest.raises(InputError, match=r"x.npz: an npz file holds no box: give --box"):
        read_npz(src, time=1.0)
    with pytest.raises(InputError, match=r"x.npz: an npz file holds no time: give --time"):
        read_npz(src, box=5.0)
    with pytest.raises(InputError, match="unknown preset 'glassbench'"):
        read_npz(src, preset="glassbench")


def test_preset_time_only_for_its_grid_point(tmp_path):
    src = _save(tmp_path / "isoconfig_N40T0.44_1_tc05.npz", botan_like())
    with pytest.raises(InputError, match="tc07 only, this file is tc05"):
        read_npz(src, preset="botan")
    assert read_npz(src, preset="botan", time=800.0).times.tolist() == [800.0]


def test_write_needs_one_lag(tmp_path):
    ens = read_npz(_save(tmp_path / "x.npz", botan_like()), preset="botan")
    from glassgen.system.data import Ensemble

    two = Ensemble(ens.species, ens.box, ens.initial, np.array([1.0, 2.0]), np.repeat(ens.positions, 2, axis=1))
    with pytest.raises(InputError, match="y.npz: a BOTAN npz holds one time; this ensemble has 2 lags"):
        write_npz(tmp_path / "y.npz", two)
    assert not (tmp_path / "y.npz").exists()
