"""Writing (and reading back) meshes, parameters and pictures."""
