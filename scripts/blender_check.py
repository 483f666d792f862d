"""Import a lasor .glb into Blender and compare Blender's own skinning with lasor's vertices.

Run by ``tests/io/test_blender_import.py`` (skips without Blender), or by hand:
``blender -b --python scripts/blender_check.py -- BODY.glb REFERENCE.json REPORT.json``.
REFERENCE.json: ``{"vertices": [[[x, y, z], ...] per frame], "fps": F}`` in the file's glTF frame
(Y up). Writes REPORT.json: armatures, bones, the mesh's modifiers, vertex groups, the action's
f-curves, and per frame the largest / mean distance (m) from each reference vertex to the nearest
vertex of the mesh as Blender evaluates it (its armature deforming it) at that keyframe.
Blender's glTF importer needs numpy; Debian's Blender 3.4 with Debian's numpy 1.24 fails in it
(``np.bool``), so ``LASOR_BLENDER_SITE`` may name a site-packages folder with a numpy >= 2 for the
same Python version (the test passes lasor's own).
"""

import json
import os
import sys

if os.environ.get("LASOR_BLENDER_SITE"):
    sys.path.insert(0, os.environ["LASOR_BLENDER_SITE"])

import bpy  # noqa: E402
from mathutils import Vector, kdtree  # noqa: E402

glb, ref_path, out_path = sys.argv[sys.argv.index("--") + 1 :][:3]
bpy.ops.wm.read_factory_settings(use_empty=True)
with open(ref_path) as f:
    ref = json.load(f)
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = int(round(ref["fps"])), 1.0
bpy.ops.import_scene.gltf(filepath=glb)
arms = [o for o in bpy.data.objects if o.type == "ARMATURE"]
meshes = [o for o in bpy.data.objects if o.type == "MESH"]
report = {
    "blender": bpy.app.version_string,
    "armatures": len(arms),
    "bones": len(arms[0].data.bones) if arms else 0,
    "meshes": len(meshes),
    "modifiers": [md.type for md in meshes[0].modifiers] if meshes else [],
    "vertex_groups": len(meshes[0].vertex_groups) if meshes else 0,
    "fcurves": sum(len(a.fcurves) for a in bpy.data.actions),
    "frames": [],
}
m = meshes[0]
for t, frame in enumerate(ref["vertices"]):
    scene.frame_set(t)  # the importer puts keyframe t (time t / fps) at frame t
    dg = bpy.context.evaluated_depsgraph_get()
    ev = m.evaluated_get(dg)
    me = ev.to_mesh()
    mw = m.matrix_world
    kd = kdtree.KDTree(len(me.vertices))
    for i, v in enumerate(me.vertices):
        kd.insert(mw @ v.co, i)
    kd.balance()
    dist = [kd.find(Vector((x, -z, y)))[2] for x, y, z in frame]  # glTF Y up -> Blender Z up
    ev.to_mesh_clear()
    report["frames"].append(
        {"vertices": len(frame), "max_m": max(dist), "mean_m": sum(dist) / len(dist)}
    )
with open(out_path, "w") as f:
    json.dump(report, f, indent=1)
