"""The one world builder of the test tiers: real processes on loopback (see world.py)."""
