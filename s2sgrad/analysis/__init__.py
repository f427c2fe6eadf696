"""Analyses over the IR that both modes read: activity (what carries a derivative) and
kinds (what each variable holds: a number, an array of some rank, a list)."""
