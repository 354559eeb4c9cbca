"""``glassgen convert`` end to end: format detection, folders, resume, the shared BOTAN data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from formats_fixtures import botan_like, dump_text, random_walk
from typer.testing import CliRunner

from glassgen.cli.app import app
from glassgen.io import read_xyz
from glassgen.io.h5md import read, read_ensemble, read_trajectory

BOTAN = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "botan_ka3d_T0.44"
runner = CliRunner()


def _ok(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_dump_to_h5md_to_xyz_and_data(tmp_path):
    box = np.array([5.0, 6.0, 7.0])
    x, species = random_walk(box=box)
    (tmp_path / "run.lammpstrj").write_text(dump_text(x, species, box, lo=(-2.5, -3.0, -3.5)))
    assert "wrote" in _ok("convert", tmp_path / "run.lammpstrj", tmp_path / "run.h5", "--dt", "0.002")
    traj = read_trajectory(tmp_path / "run.h5")
    np.testing.assert_allclose(traj.positions, x, rtol=0, atol=1e-12)
    assert traj.meta["dt"] == 0.002 and traj.meta["format_in"] == "lammps-dump"
    _ok("convert", tmp_path / "run.h5", tmp_path / "run.xyz")
    xyz = read_xyz(tmp_path / "run.xyz")
    np.testing.assert_allclose(xyz.positions, x, rtol=0, atol=1e-12)
    np.testing.assert_allclose(xyz.times, traj.times)
    _ok("convert", tmp_path / "run.h5", tmp_path / "last.data", "--frame", "-1")
    _ok("convert", tmp_path / "last.data", tmp_path / "last.h5", "--dt", "0.002")
    last = read_trajectory(tmp_path / "last.h5")
    np.testing.assert_allclose(last.positions[0], x[-1], atol=1e-12)
    assert last.times[0] == pytest.approx(traj.times[-1])


def test_format_from_content_and_override(tmp_path):
    box = np.array([5.0, 6.0, 7.0])
    x, species = random_walk(box=box, frames=2)
    (tmp_path / "run.txt").write_text(dump_text(x, species, box))
    _ok("convert", tmp_path / "run.txt", tmp_path / "a.h5")  # sniffed: starts with ITEM:
    _ok("convert", tmp_path / "run.txt", tmp_path / "b.out", "--format-in", "lammps-dump", "--format-out", "h5md")
    np.testing.assert_array_equal(read(tmp_path / "a.h5").positions, read(tmp_path / "b.out").positions)


def test_file_into_existing_folder(tmp_path):
    np.savez(tmp_path / "c_tc07.npz", **botan_like(n=20))
    (tmp_path / "out").mkdir()
    _ok("convert", "--preset", "botan", tmp_path / "c_tc07.npz", tmp_path / "out")
    assert read_ensemble(tmp_path / "out" / "c_tc07.h5").times.tolist() == [4120.0]


def test_folder_convert_and_resume(tmp_path):
    src = tmp_path / "npz"
    src.mkdir()
    for k in range(3):
        np.savez(src / f"c{k}_tc07.npz", **botan_like(n=20, seed=k))
    (src / "README.md").write_text("not data")
    assert "wrote 3 files" in _ok("convert", "--preset", "botan", src, tmp_path / "h5")
    outs = sorted((tmp_path / "h5").iterdir())
    assert [p.name for p in outs] == ["c0_tc07.h5", "c1_tc07.h5", "c2_tc07.h5"]
    stamp = [p.stat().st_mtime_ns for p in outs]
    outs[1].unlink()
    _ok("convert", "--preset", "botan", "--resume", src, tmp_path / "h5")
    assert outs[1].exists() and [outs[0].stat().st_mtime_ns, outs[2].stat().st_mtime_ns] == [stamp[0], stamp[2]]


def test_subprocess_error_is_one_line_exit_2(tmp_path):
    (tmp_path / "bad.dump").write_text("ITEM: TIMESTEP\n0\nITEM: NUMBER OF ATOMS\n2\nITEM: BOX BOUNDS xy xz yz pp pp pp\n")
    r = subprocess.run([sys.executable, "-m", "glassgen.cli.app", "convert", str(tmp_path / "bad.dump"), str(tmp_path / "o.h5")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and r.stderr.startswith("error: ") and "bad.dump" in r.stderr
    assert "triclinic boxes are not supported" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "o.h5").exists()


def _botan_round_trip(tmp_path, folder: Path):
    h5, back = tmp_path / "h5", tmp_path / "npz"
    _ok("convert", "--preset", "botan", folder, h5)
    _ok("convert", "--format-out", "npz", h5, back)
    originals = sorted(folder.glob("*.npz"))
    for orig in originals:
        ens = read_ensemble(h5 / (orig.stem + ".h5"))
        assert ens.times.tolist() == [4120.0] and ens.positions.shape == (32, 1, 4096, 3)
        np.testing.assert_allclose(ens.box, 15.05658, atol=5e-6)
        assert ens.meta["temperature"] == 0.44 and "GlassBench" in ens.meta["assumptions"]
        with np.load(orig) as a, np.load(back / orig.name) as b:
            assert sorted(a.files) == sorted(b.files)
            for k in a.files:
                assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), (orig.name, k)
    return len(originals)


@pytest.mark.shared_data
@pytest.mark.skipif(not BOTAN.is_dir(), reason="shared BOTAN data absent")
def test_botan_two_files_round_trip(tmp_path):
    sub = tmp_path / "two"
    sub.mkdir()
    for name in ("isoconfig_N4096T0.44_1_tc07.npz", "isoconfig_N4096T0.44_10_tc07.npz"):
        (sub / name).symlink_to(BOTAN / name)
    assert _botan_round_trip(tmp_path, sub) == 2


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.skipif(not BOTAN.is_dir(), reason="shared BOTAN data absent")
def test_botan_all_files_round_trip(tmp_path):
    assert _botan_round_trip(tmp_path, BOTAN) == 10
