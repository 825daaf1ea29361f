"""Operations: the health check and /metrics (views.py, metrics.py), what the processes count as they work
(instruments.py) and the log lines they write (logs.py)."""
