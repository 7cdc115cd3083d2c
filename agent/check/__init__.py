"""The live probe of one path (being moved here from agent/pipeline.py)."""
