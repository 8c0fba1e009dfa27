"""glossfree.models"""
