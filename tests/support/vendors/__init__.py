"""HTTP-level emulators of registry vendors' APIs, in front of real ``docker-registry`` processes.

``base`` holds what every emulator shares; one module per vendor adds that vendor's API.
"""
