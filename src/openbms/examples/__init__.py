"""Example sites that ship with openbms (``openbms init`` copies one)."""
