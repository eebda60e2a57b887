"""Generation providers (SPEC §8): one module per protocol, chosen per job type by the providers file.

``config`` parses the file (imported by :mod:`framefleet.config`, so this package imports nothing at
import time); ``base`` is the interface; ``http`` the one HTTP helper every remote provider uses.
"""
