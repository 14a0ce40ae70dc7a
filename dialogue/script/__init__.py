"""Script model: what script designers write, how it is loaded, checked and rendered."""
