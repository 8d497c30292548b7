"""ganzoo.training"""
