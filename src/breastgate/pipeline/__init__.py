"""Pipeline: job handlers that take a stable study through routing, algorithms, results and delivery."""
