"""Evaluation protocol: pairs of source/target media, swaps, per-frame scores, reports."""
