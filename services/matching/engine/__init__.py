"""The matching engine: profiles in, ranked partners with reasons out.

Pure Python over numpy, scipy and scikit-learn: it imports no web framework, database
or messaging library and nothing from the service shell around it (checked by
tests/test_architecture.py), so it can be tested and benchmarked on its own.
Modules inside the package import each other relatively.
"""
