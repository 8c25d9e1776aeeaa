"""The warehouse: every byte toll keeps, behind one storage layer that knows the layout.

`Warehouse` (layout.py) names every key: raw bytes and the manifest (raw_store.py), caches
(raw_tables.py), the work database (database.py), snapshots and `current` (snapshots.py),
quarantine, Data Docs and reports. `Storage` (storage.py) is the seam to the medium: a local
folder today; keys, create-only writes, atomic pointer switches and listing are what an object
store offers too. No module outside this package joins warehouse paths
(tests/warehouse/test_layout_seam.py checks it).
"""
