"""glossfree.models.temporal"""
