"""Metadata operations: each module is a family of wire operations that read or change metadata."""
