"""containers.podman.podman with Ansible pipelining, for the molecule scenario only.

Why: the collection's plugin runs five `podman exec` per task (home, mkdir, chmod, module, rm);
on the 2-core test machine each costs ~0.3 s of mostly CPU, which made one converge of three
hosts take ~4 minutes. Pipelining sends the module on stdin of a single `podman exec -i`.
Everything else (container addressing by name, options, file transfer) is the collection's.
The demo and `ansible-playbook -i inventory/local` keep using containers.podman.podman.
"""

from __future__ import annotations

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import (
    DOCUMENTATION as _PODMAN_DOCUMENTATION,
)
from ansible_collections.containers.podman.plugins.connection.podman import Connection as _PodmanConnection

DOCUMENTATION = _PODMAN_DOCUMENTATION.replace("name: podman\n", "name: podman_pipelined\n", 1)


class Connection(_PodmanConnection):
    """`podman exec -i` when Ansible pipes the module in; otherwise the collection's behaviour."""

    transport = "podman_pipelined"
    has_pipelining = True
    always_pipeline_modules = True  # independent of ansible.cfg's [ssh_connection] pipelining

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        args = ["exec"]
        if in_data is not None:
            args.append("-i")  # without it podman exec does not forward stdin
        if self.user:
            args.extend(("--user", self.user))
        return self._podman(args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
