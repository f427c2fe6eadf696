"""Analyses over the IR that both modes read: activity (what carries a derivative), kinds
(what each variable holds: a number, an array of some rank, a list), aliasing (which
names may share an array, and the in-place updates refused for it) and dataflow (what a
block reads, what is bound on every path through it)."""
