"""The simulated PipeWire graph: one sink, audio streams and JACK clients.

Owned by `simulator.world.World` (each node belongs to a process in the process table);
read by `SimBackend.observe()` as a `dubnium.facts.AudioGraph`, the same value the real
backend builds with `AudioGraph.from_pw_dump`. A stream is a `Stream/Output/Audio` node in
state `running`; a JACK client is a node with client.api "jack" and no media class, as
PipeWire's JACK layer shows them. The sink runs while a stream does and is suspended
otherwise.
"""

from __future__ import annotations

from typing import Any

from dubnium.facts import AudioGraph, AudioNode
from simulator import jsonutil

SINK_ID = 31
SINK_NAME = "alsa_output.pci-0000_00_1f.3.analog-stereo"


class Pipewire:
    def __init__(self) -> None:
        self.nodes: dict[int, AudioNode] = {}
        self.next_id = 40
        self._facts: AudioGraph | None = None

    def add_stream(self, name: str, pid: int) -> AudioNode:
        return self._add(AudioNode(self.next_id, name, "Stream/Output/Audio", "running",
                                   app_pid=pid, app_name=name))

    def add_jack_client(self, name: str, pid: int) -> AudioNode:
        return self._add(AudioNode(self.next_id, name, "", "running", client_api="jack",
                                   app_pid=pid, app_name=name))

    def _add(self, node: AudioNode) -> AudioNode:
        self.nodes[node.id] = node
        self.next_id += 1
        self._facts = None
        return node

    def find(self, name: str, *, jack: bool) -> AudioNode | None:
        for node in self.nodes.values():
            if node.name == name and node.is_jack_client == jack:
                return node
        return None

    def remove(self, node_id: int) -> None:
        self.nodes.pop(node_id, None)
        self._facts = None

    def remove_for_pid(self, pid: int) -> None:
        for node_id in [n.id for n in self.nodes.values() if n.app_pid == pid]:
            self.remove(node_id)

    def clear(self) -> None:
        self.nodes.clear()
        self._facts = None

    def facts(self) -> AudioGraph:
        if self._facts is None:
            playing = any(n.is_busy_stream for n in self.nodes.values())
            sink = AudioNode(SINK_ID, SINK_NAME, "Audio/Sink",
                             "running" if playing else "suspended")
            self._facts = AudioGraph((sink, *self.nodes.values()))
        return self._facts

    def to_json(self) -> dict[str, Any]:
        return {"next_id": self.next_id,
                "nodes": [jsonutil.to_json(n) for n in self.nodes.values()]}

    @classmethod
    def from_json(cls, data: Any) -> Pipewire:
        graph = cls()
        graph.next_id = int(data["next_id"])
        for raw in data["nodes"]:
            node = jsonutil.from_json(AudioNode, raw)
            graph.nodes[node.id] = node
        return graph
