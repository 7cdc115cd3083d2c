"""Evidence bundles (DESIGN.md): the format, reading, writing with redaction, turning a bundle into
the classifier's input, and keeping bundles on disk.

Submodules, each importing only those before it: `format` (names and limits, imports nothing),
`write`, `read`, `to_input`, `keep`. This package module re-exports nothing, so importing one part
does not pull in the others.
"""
