"""glossfree.training"""
