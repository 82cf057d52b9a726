"""Example handlers for ``consumer run --handler examples.<module>:handle`` (run from the
repository root, which ``consumer run`` puts on the import path)."""
