"""Put on PYTHONPATH of a subprocess to block its network: every connection attempt fails at once.

Used by tests of dry runs, so that what a dry run does with an unreachable
network is tested the same way on every machine (here DNS fails; elsewhere
Cloud Storage might answer).
"""

import socket


def _refuse(*args, **kwargs):
    raise OSError(101, "network access blocked by tests/no_network")


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.getaddrinfo = _refuse
socket.create_connection = _refuse
