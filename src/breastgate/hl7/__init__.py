"""HL7 v2: the codec (parsing, escaping, ACKs), result and order messages out (ORU, ORM/OMI), site
profiles and MLLP framing. Pure: the use cases (intake, ORU enqueueing, the MLLP sender and listener)
live in ``ingest``, ``pipeline`` and ``delivery`` and import this package."""
