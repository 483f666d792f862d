"""CPU rendering: cameras, hard rasterization, differentiable silhouettes, pictures.

* :mod:`~lasor.render.camera`: weak-perspective / pinhole projections to screen space
  ``(u, v, depth)`` (pure, batched, differentiable).
* :mod:`~lasor.render.rasterize`: z-buffered hard rasterizer (face ids, depth, silhouettes,
  part labels, visibility) for synthetic data and pictures.
* :mod:`~lasor.render.silhouette`: differentiable silhouettes: SoftRas-style
  :func:`soft_silhouette` and the faster exact-forward :func:`edge_grad_silhouette`.
* :mod:`~lasor.render.overlay`: shaded people over photos and side views.

Nothing is compiled or allocated at import; numba kernels compile on first use (cached on disk)
and run in parallel over the batch (``NUMBA_NUM_THREADS``). With numba's default "omp" threading
layer, idle workers spin: on shared or busy cores that made calls up to 10x slower in our
benchmarks. Set ``OMP_WAIT_POLICY=PASSIVE`` (or ``NUMBA_THREADING_LAYER=workqueue``) in the
environment before the first call in that case.
"""

from lasor.render.camera import (
    ndc_to_pixels,
    perspective_project,
    perspective_to_weak_perspective,
    pixels_to_ndc,
    weak_perspective_project,
    weak_perspective_to_perspective,
)
from lasor.render.overlay import (
    PERSON_COLORS,
    MeshRender,
    render_meshes,
    render_overlay,
    render_side_view,
    save_png,
)
from lasor.render.rasterize import Fragments, points_visible, rasterize, rasterize_silhouette
from lasor.render.silhouette import (
    EdgeGradSilhouette,
    MeshEdges,
    SoftSilhouette,
    edge_grad_silhouette,
    geometric_schedule,
    mesh_edges,
    soft_silhouette,
)

__all__ = [
    "PERSON_COLORS",
    "EdgeGradSilhouette",
    "Fragments",
    "MeshEdges",
    "MeshRender",
    "SoftSilhouette",
    "edge_grad_silhouette",
    "geometric_schedule",
    "mesh_edges",
    "ndc_to_pixels",
    "perspective_project",
    "perspective_to_weak_perspective",
    "pixels_to_ndc",
    "points_visible",
    "rasterize",
    "rasterize_silhouette",
    "render_meshes",
    "render_overlay",
    "render_side_view",
    "save_png",
    "soft_silhouette",
    "weak_perspective_project",
    "weak_perspective_to_perspective",
]
