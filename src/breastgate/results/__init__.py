"""Result encoders and decoders: Mammography CAD SR (TID 4000), results JSON, deterministic UIDs."""
