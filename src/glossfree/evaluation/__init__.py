"""glossfree.evaluation"""
