"""Persistence: SQLAlchemy tables and repositories, Alembic migrations, DICOM blob storage."""
