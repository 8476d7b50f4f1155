"""Hasura's GraphQL front door: per-role schemas of the actions, documents checked and run
through run_action's path, subscriptions to asynchronous runs. No HTTP here: rpc/graphql.py
serves it."""
