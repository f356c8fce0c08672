"""Simulated equipment served over real protocols (BACnet now; the building emulator later)."""
