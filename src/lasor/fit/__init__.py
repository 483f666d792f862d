"""Fitting the regressed body in the photo's own camera (see :mod:`lasor.fit.core`)."""
