"""The canonical schema of glucomag, defined once.

`schemas.canonical` declares every table's columns and row rules; `schemas.ddl` derives the
DuckDB DDL from it and `schemas.expectations` the Great Expectations suites.
"""
