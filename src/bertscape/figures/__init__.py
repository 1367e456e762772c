"""Figures 1-7 and Table 1 of Hao et al. (2019) from landscape grids, one module per figure family.

Every ``fig_*`` function is pure: it takes data and a ``style`` dict (:mod:`.style`) and returns a new
:class:`matplotlib.figure.Figure` on an Agg canvas. Figures are not registered with pyplot and no
rcParams are changed, so nothing global is touched; every font size is passed explicitly so the
output does not depend on the caller's rcParams. :func:`.save.save_figure` writes PNG / PDF / SVG
atomically and byte-reproducibly, with a provenance JSON string embedded in the file metadata.

Modules: :mod:`.scales` (colour scales and labels, backend-neutral: the 3D views use them too),
:mod:`.style` (the style kit), :mod:`.surfaces` (Figures 1, 6), :mod:`.training` (Figure 2),
:mod:`.trajectories` (Figures 3, 4), :mod:`.curves` (Figure 5), :mod:`.layers` (Figure 7),
:mod:`.table` (Table 1), :mod:`.save` (the saver), :mod:`.inputs` (pipeline files to figures).
"""
