"""Transforms of the IR.

reverse.py builds adjoints (control-flow reversal and the adjoint function), from the
per-statement adjoints of adjoints.py and the saves and restores of saves.py; forward.py
builds tangents, batched.py is its vector mode (many directions at once); common.py is
what both modes share.  optimize.py simplifies the result, tapes.py makes typed tapes for
compiled targets, and naming.py gives every generated name."""
