"""Custom ``torch.nn`` modules used by DomainLens domains."""
