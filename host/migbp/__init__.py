"""Host-side harness for the 5.10 migration backport series (see README.md)."""
