"""Keyspace notifications seen exactly, without sleeping (test_hash.py, test_set.py).

`events` (a fixture of conftest.py) makes an Events: a subscriber to every keyspace/keyevent
channel plus a private marker channel. After a command, the command connection PUBLISHes the
next marker and the subscriber reads up to it, so it holds exactly the events the command
raised; an event that never comes fails at the socket timeout.
"""

IO = 5.0   # socket timeout of the subscriber connection


class Events:
    def __init__(self, server, cmd, mark="events-mark"):
        self.sub = server.raw(timeout=IO)
        self.cmd = cmd
        self.mark = mark
        self.n = 0
        assert self.sub.call("PSUBSCRIBE", "__key*__:*") == [b"psubscribe", b"__key*__:*", 1]
        assert self.sub.call("SUBSCRIBE", mark) == [b"subscribe", mark.encode(), 2]

    def run(self, *command):
        """Run command; return (its reply, the (channel, message) events it raised)."""
        reply = self.cmd.call(*command)
        self.n += 1
        assert self.cmd.call("PUBLISH", self.mark, str(self.n)) == 1
        events = []
        while True:
            m = self.sub.read_reply()
            if m[0] == b"message":
                assert m[1:] == [self.mark.encode(), str(self.n).encode()], m
                return reply, events
            assert m[0] == b"pmessage", m
            events.append((m[2].decode(), m[3].decode()))


def kea(event, key):
    """What KEA raises for one event on one key: its keyspace and its keyevent message."""
    return [(f"__keyspace@0__:{key}", event), (f"__keyevent@0__:{event}", key)]
