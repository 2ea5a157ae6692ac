"""Tools for development, tests and demos, outside the production import path.

The replay exchange (`bitso ticker replay`) and the snapshot generator (`bitso generate`)
live here; no code location, resource, sampler or loader module imports this package, so
they load only when one of those commands (or a test, or a benchmark) asks for them.
"""
