"""Pulling data from services the user names (their own Nightscout site).

The only code in the project that opens network connections. A pull writes an ordinary export
file (e.g. `entries.json`) that the matching importer reads, so pulled and exported data take
the same path through detection, validation and deduplication.
"""
