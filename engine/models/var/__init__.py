"""models/var"""
