"""Writes of the quality app: feedback (`feedback.py`) and the rollups built from it (`rollups.py`)."""
