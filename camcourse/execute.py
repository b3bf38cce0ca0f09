"""Execute a notebook with nbclient without waiting on a reply that has already arrived.

nbclient emulates the front end's Output widget: when a cell draws inside one (``interact``
does), it sends the widget's new state back to the kernel on the shell channel while it
waits on that same channel for the cell's ``execute_reply``. jupyter_client's
``Session.send`` sends through a plain shadow of the channel's asyncio socket, and a plain
send processes libzmq's pending commands, which clears the edge-triggered ``zmq.FD``. If the
reply came in just before, the asyncio poller is never told: the reply sits in the socket,
the kernel is idle, and the client sleeps until its poll times out (forever without a
timeout). `LessonClient` sends through the asyncio socket instead, whose send re-checks the
socket for pending receives.

>>> issubclass(LessonClient, __import__("nbclient").NotebookClient)
True
"""

from __future__ import annotations

from nbclient import NotebookClient

__all__ = ["LessonClient"]


class LessonClient(NotebookClient):
    """`nbclient.NotebookClient` whose shell messages go through the asyncio socket."""

    async def async_start_new_kernel_client(self):
        client = await super().async_start_new_kernel_client()
        channel, session = client.shell_channel, client.session

        def send(message: dict) -> None:
            channel.socket.send_multipart(session.serialize(message))

        channel.send = send
        return client
