"""The one home of pynetdicom plumbing: the client AE (socket-leak fix, TCP_NODELAY), association set-up
with failures mapped once, DIMSE status meanings, and the chunked-receive wiring of Storage SCPs."""
