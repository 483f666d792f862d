"""Synthetic training data: poses (mocap -> body-model poses), shapes, cameras, occluders, proxy.

Kept light on purpose: import the submodules you need (``lasor.synth.poses``,
``lasor.synth.bvh``, ...); nothing heavy is imported here.
"""
