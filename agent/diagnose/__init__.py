"""Diagnosis: the classifier ladder, cross-check rules and remedies (pure)."""
