"""glossfree.inference"""
