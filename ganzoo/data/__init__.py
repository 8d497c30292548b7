"""ganzoo.data"""
