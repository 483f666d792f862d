"""The library API every front door shares: ``lasor.Estimator``.

>>> import lasor
>>> est = lasor.Estimator()                      # shipped model, CPU, MediaPipe front end
>>> people = est("photo.jpg")                    # or an (H, W, 3) uint8 RGB array
>>> people[0].vertices.shape, people[0].joints2d_coco.shape
>>> est.predict(["photo.jpg"], "out")            # the files ``lasor predict`` writes

The CLI (``lasor predict``), video (``lasor.video``) and the benchmarks call this; it chains the
steps of :mod:`lasor.predict` and never re-implements one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lasor.frontend.types import FrontendError, PersonObservation
from lasor.io.results import PersonResult
from lasor.predict import (
    PredictOptions,
    Predictor,
    load_predictor,
    make_detector,
    observe,
    person_items,
    predict,
    run_people,
    shipped_model_path,
)

if TYPE_CHECKING:
    from lasor.fit.core import FitOptions
    from lasor.refine import RefineOptions

log = logging.getLogger(__name__)

#: one person's result: plain numpy arrays (see `lasor.io.results.PersonResult`)
Person = PersonResult

__all__ = ["Estimator", "Person"]


class Estimator:
    """Photo(s) -> 3D bodies, with the model and front end built once.

    Every option of ``lasor predict`` is a keyword (the same names as `PredictOptions`); the
    defaults are the CLI's: the shipped model, CPU, the MediaPipe front end, fitting
    in the photo's camera on (``fit=False`` is ``lasor predict --fast``).

    Args:
        model_path: regressor file (default: the shipped model).
        refine: refinement steps (int; 0 = off) or a ``lasor.refine.RefineOptions``; replaces
            the fit, as ``--refine`` does.
        fit: fit each body in the photo's camera (``lasor.fit``): True (the default options),
            a number of steps, a ``lasor.fit.FitOptions``, or False / 0 / None for the
            regressor's output as is.
        **options: any other `PredictOptions` field (keypoints, masks, boxes, batch_size,
            render, device, mesh_topology, focal_length, height: the person's height in
            metres, making ``cam_t`` metric).

    Use as a context manager (or call `close`) to release MediaPipe when done.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        refine: int | RefineOptions | None = None,
        fit: int | bool | FitOptions | None = True,
        **options,
    ) -> None:
        if isinstance(refine, int):
            if refine < 0:
                raise ValueError(f"refine needs a number of steps >= 0, got {refine}")
            if refine:
                from lasor.refine import RefineOptions

                refine = RefineOptions(steps=refine)
            else:
                refine = None
        if refine is not None:
            fit = None  # as on the command line: --refine replaces the default fit
        if fit is True:
            from lasor.fit.core import FitOptions

            fit = FitOptions()
        elif fit is False or fit is None or fit == 0:
            fit = None
        elif isinstance(fit, int):
            if fit < 0:
                raise ValueError(f"fit needs a number of steps >= 0, got {fit}")
            from lasor.fit.core import FitOptions

            fit = FitOptions(steps=fit)
        if options.get("height") is not None and not options["height"] > 0:
            raise ValueError(f"height needs a positive number of metres, got {options['height']}")
        for key in ("keypoints", "masks"):
            if options.get(key) is not None:
                options[key] = Path(options[key])
        unknown = set(options) - set(PredictOptions.__dataclass_fields__)
        if unknown:
            known = ", ".join(sorted(PredictOptions.__dataclass_fields__))
            raise TypeError(f"Estimator: unknown option(s) {sorted(unknown)}; known: {known}")
        path = Path(model_path) if model_path is not None else None
        self.options = PredictOptions(model_path=path, refine=refine, fit=fit, **options)
        self.model_path = self.options.model_path or shipped_model_path()
        self.predictor: Predictor = load_predictor(self.model_path, self.options)
        self._detector = None

    @property
    def detector(self):
        """The front end (MediaPipe, built on first use), or None with user keypoints."""
        if self._detector is None:
            self._detector = make_detector(self.options)
        return self._detector

    def observe(self, image: np.ndarray | str | Path, name: str | None = None) -> list:
        """The front end alone: the `PersonObservation` of each person found (maybe none)."""
        image, path = _load(image, name)
        return observe(path, image, self.options, self.detector)

    def __call__(
        self,
        image: np.ndarray | str | Path,
        *,
        name: str | None = None,
        observations: list[PersonObservation] | None = None,
    ) -> list[PersonResult]:
        """The people in one photo.

        Args:
            image: (H, W, 3) uint8 RGB array, or an image file.
            name: the image's name (default: the file's path, or "image"): recorded in the
                results, and the stem looked up in ``keypoints`` / ``masks`` folders.
            observations: the people already observed (skips the front end).

        Returns:
            one `PersonResult` per person found (an empty list when nobody is). Raises
            `FrontendError` for bad input files.
        """
        image, path = _load(image, name)
        people = (
            observe(path, image, self.options, self.detector)
            if observations is None
            else observations
        )
        if not people:
            return []
        items = person_items(image, people, str(path))
        results: list[PersonResult] = []
        bs = max(1, self.options.batch_size)
        for i in range(0, len(items), bs):
            results += run_people(self.predictor, items[i : i + bs], self.options)[0]
        return results

    def predict(
        self, paths: list[str | Path] | str | Path, out_dir: str | Path, progress: bool = False
    ) -> dict:
        """Write the files ``lasor predict`` writes for photos (files or folders); the summary."""
        from lasor.predict import find_images

        paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
        return predict(
            find_images(paths), Path(out_dir), self.options, progress=progress,
            predictor=self.predictor, detector=self.detector,
        )  # fmt: skip

    def close(self) -> None:
        """Release the front end (MediaPipe's graphs)."""
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> Estimator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _load(image: np.ndarray | str | Path, name: str | None) -> tuple[np.ndarray, Path]:
    if isinstance(image, (str, Path)):
        from lasor.frontend.files import load_image

        return load_image(Path(image)), Path(name) if name else Path(image)
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
        raise FrontendError(
            name or "image", f"expected an (H, W, 3) uint8 RGB array, got {arr.dtype} {arr.shape}"
        )
    return arr, Path(name or "image")
