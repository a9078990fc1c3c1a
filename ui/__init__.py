"""A local web dashboard over the bank."""
