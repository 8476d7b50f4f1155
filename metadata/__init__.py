"""Switchboard's metadata (rpc/packages.py checks this marker at start-up)."""

SWITCHBOARD_PACKAGE = True
