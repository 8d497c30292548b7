"""ganzoo.store"""
