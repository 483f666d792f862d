"""Front ends: photo -> per-person 2D keypoints (COCO-17), silhouette and box.

* `lasor.frontend.files`: user-supplied COCO / OpenPose keypoint JSON, mask PNGs, box files, images.
* `lasor.frontend.mediapipe_pose`: MediaPipe Pose on a photo (optional dependency, imported lazily).
"""

from lasor.frontend.files import (
    load_image,
    read_boxes,
    read_coco_dataset,
    read_coco_keypoints,
    read_keypoints,
    read_mask,
    read_openpose,
)
from lasor.frontend.types import FrontendError, PersonObservation

__all__ = [
    "FrontendError",
    "PersonObservation",
    "load_image",
    "read_boxes",
    "read_coco_dataset",
    "read_coco_keypoints",
    "read_keypoints",
    "read_mask",
    "read_openpose",
]
