"""lasor: occlusion-robust single-image 3D human pose and shape estimation on a CPU.

Importing ``lasor`` does no heavy work: subpackages load their models lazily.
"""

__version__ = "0.1.0"
