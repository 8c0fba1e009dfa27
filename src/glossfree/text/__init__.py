"""glossfree.text"""
