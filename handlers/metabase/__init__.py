"""Metabase's REST API below HTTP: sessions, users, databases, models, actions and their
execution, answered in Metabase's shapes, over Switchboard's operations and run path."""
