"""Catalogue resolution: which Autocosmos version a vehicle is.

`spec` turns a vehicle into best-match parameters and a stable `spec_key`; `resolve` asks
`versiones/bestmatch` once per distinct spec and caches the answer in `catalog_matches`;
`ranking` scores the candidates when no version matched; `review` is the operator's queue.
"""
