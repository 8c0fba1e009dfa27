"""glossfree.data.prepare"""
