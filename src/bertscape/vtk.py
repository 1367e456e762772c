"""VTK export of a surface for ParaView: a legacy-format STRUCTURED_GRID (binary, big-endian float64).

Points are (alpha, beta, height) with alpha varying fastest, so the grid's [i_alpha, j_beta] values
are written in the order values.T.ravel(). The height is the surface's ``height`` metric where finite
(at a non-finite or unevaluated node: the largest finite value, so the geometry stays valid; the
``finite`` array says which); every metric is a point-data array with its raw values (NaN kept). Open
in ParaView, colour by a metric; ``Warp By Scalar`` is not needed (the height is already there).
"""

from __future__ import annotations

import os

import numpy as np

from .io import atomic_path


def vtk_bytes(alpha, beta, values: dict[str, np.ndarray], height: str, title: str, done=None) -> bytes:
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta, dtype=np.float64)
    if height not in values:
        raise ValueError(f"height metric {height!r} not among {sorted(values)}")
    for m, v in values.items():
        if np.shape(v) != (len(a), len(b)):
            raise ValueError(f"{m} has shape {np.shape(v)}, expected {(len(a), len(b))}")
    ok = np.isfinite(values[height]) & (np.ones_like(values[height], bool) if done is None else np.asarray(done, bool))
    fill = float(values[height][ok].max()) if ok.any() else 0.0
    z = np.where(ok, values[height], fill)
    A, B = np.meshgrid(a, b, indexing="ij")
    pts = np.stack([A.T.ravel(), B.T.ravel(), z.T.ravel()], axis=1)
    n = len(a) * len(b)
    title = " ".join(title.split())[:255]  # one line, at most 256 characters
    out = [f"# vtk DataFile Version 3.0\n{title}\nBINARY\nDATASET STRUCTURED_GRID\n"
           f"DIMENSIONS {len(a)} {len(b)} 1\nPOINTS {n} double\n".encode(), pts.astype(">f8").tobytes(),
           f"\nPOINT_DATA {n}\n".encode()]
    arrays = {**{m: np.asarray(v, dtype=np.float64) for m, v in sorted(values.items())}, "finite": ok.astype(np.float64)}
    for m, v in arrays.items():
        out += [f"SCALARS {m} double 1\nLOOKUP_TABLE default\n".encode(), v.T.ravel().astype(">f8").tobytes(), b"\n"]
    return b"".join(out)


def write_vtk(path: str | os.PathLike, grid, height: str = "train_loss") -> None:
    """The surface ``grid`` (a :class:`bertscape.h5io.Grid`) as ``path`` (.vtk), written atomically."""
    title = f"bertscape {grid.kind} {grid.attrs.get('task')} {grid.attrs.get('init') or ''} " \
            f"{grid.attrs.get('group') or ''} height={height}"
    data = vtk_bytes(grid.alpha, grid.beta, grid.values, height, title, grid.done)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def read_vtk(path: str | os.PathLike) -> tuple[tuple[int, int], np.ndarray, dict[str, np.ndarray]]:
    """((A, B), points (A*B, 3), {array: values (A*B,)}) of a file :func:`write_vtk` wrote (for tests and checks)."""
    raw = open(path, "rb").read()
    pos, header = 0, []

    def line():
        nonlocal pos
        end = raw.index(b"\n", pos)
        text, pos = raw[pos:end].decode(), end + 1
        return text

    for _ in range(5):
        header.append(line())
    if header[2] != "BINARY" or header[3] != "DATASET STRUCTURED_GRID":
        raise ValueError(f"{path}: not a binary structured grid")
    dims = tuple(int(x) for x in header[4].split()[1:3])
    n = int(line().split()[1])
    pts = np.frombuffer(raw, ">f8", n * 3, pos).reshape(n, 3).astype(np.float64)
    pos += n * 24 + 1
    if int(line().split()[1]) != n:
        raise ValueError(f"{path}: point data size")
    arrays = {}
    while pos < len(raw):
        name = line().split()[1]
        line()
        arrays[name] = np.frombuffer(raw, ">f8", n, pos).astype(np.float64)
        pos += n * 8 + 1
    return dims, pts, arrays
