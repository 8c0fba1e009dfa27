"""glossfree.models.frontends"""
