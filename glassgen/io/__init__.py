"""Readers and writers of other codes' files, and ``glassgen convert`` (see ``docs/converters.md``).

One module per format: :mod:`.npz` (BOTAN / GlassBench), :mod:`.lammps_dump`,
:mod:`.lammps_data`, :mod:`.xyz` (extended XYZ); :mod:`.convert` picks the
format and moves data between them and glassgen's H5MD files.
"""
from glassgen.io.convert import convert, convert_folder, convert_path, read_any, write_any
from glassgen.io.lammps_data import read_lammps_data, write_lammps_data
from glassgen.io.lammps_dump import read_lammps_dump, write_lammps_dump
from glassgen.io.npz import read_npz, write_npz
from glassgen.io.xyz import read_xyz, read_xyz_columns, write_xyz

__all__ = [
    "convert", "convert_folder", "convert_path", "read_any", "write_any",
    "read_lammps_data", "write_lammps_data", "read_lammps_dump", "write_lammps_dump",
    "read_npz", "write_npz", "read_xyz", "read_xyz_columns", "write_xyz",
]
