"""glossfree.data"""
