"""Switchboard's handlers (rpc/packages.py checks this marker at start-up)."""

SWITCHBOARD_PACKAGE = True
