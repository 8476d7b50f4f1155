"""Running actions: the run operations, the executors (webhook, sql, table), their resources, the async workers."""
