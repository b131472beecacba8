"""peewee models, one module per area; `models.db` holds the DatabaseProxy."""
