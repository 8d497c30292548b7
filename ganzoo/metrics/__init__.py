"""ganzoo.metrics"""
