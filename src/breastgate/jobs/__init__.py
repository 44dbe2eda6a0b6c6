"""Jobs: the durable ledger (state, lease, attempts) and the Huey queue that carries job ids."""
