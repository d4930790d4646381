"""Posterior analysis in ArviZ (InferenceData export, PSIS diagnostics); filled in by its issue."""
