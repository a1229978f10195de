"""Drives Home Assistant's matter server client, unmodified, against a matter server.

The client is the `matter_server.client` package of the matterjs-server repository's
python_client folder (with the pure-Python `chip.clusters` it bundles); it must be on
PYTHONPATH. The steps are what Home Assistant's Matter integration does with a device:
connect and start listening, commission it by code, toggle it, follow attribute_updated,
read the attribute back and remove the node.

Each step prints one JSON line on stdout ({"step": name, ...what the client saw}); with
--step-by-step the driver then waits for a line on stdin before going on, so a test can
look at the device between steps. Whatever the client raises ends the run with a
{"step": name, "error": ..., "traceback": ...} line and exit status 1: a parse error
in the client is a gap in the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import traceback
from dataclasses import is_dataclass
from typing import Any

import aiohttp
from chip.clusters import Objects as Clusters
from matter_server.client import MatterClient
from matter_server.common.errors import MatterError
from matter_server.common.helpers.util import dataclass_from_dict, dataclass_to_dict
from matter_server.common.models import APICommand, EventType, MatterNodeData

# each wait ends before the test's own 30 s, so the client's error is what gets reported
TIMEOUT = 20.0
# the bridge gives up commissioning after 20 s and answers NodeCommissionFailed
COMMISSION_TIMEOUT = 25.0
ON_OFF = Clusters.OnOff
UNKNOWN_NODE = 424242


class Warnings(logging.Handler):
    """The client's own warnings (a value it could not parse, a missing cluster): gaps too."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}")


WARNINGS = Warnings()


class Steps:
    """Prints the steps and, step by step, waits for the test's go-ahead."""

    def __init__(self, step_by_step: bool) -> None:
        self.step_by_step = step_by_step
        self.current = "start"

    async def done(self, name: str, **seen: Any) -> None:
        print(json.dumps({"step": name, **seen}, default=str), flush=True)
        if self.step_by_step:
            line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
            if not line:
                raise SystemExit("stdin closed: the test went away")


def expect_event(client: MatterClient, event: EventType, **filters: Any) -> asyncio.Future[Any]:
    """A future for the next `event` (subscribed before the action that causes it)."""
    future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def callback(_event: EventType, data: Any) -> None:
        if not future.done():
            future.set_result(data)

    unsubscribe = client.subscribe_events(callback, event, **filters)
    future.add_done_callback(lambda _f: unsubscribe())
    return future


async def refused(call: Any) -> dict[str, Any]:
    """What the client raised for a call the server must refuse (its class and error code)."""
    try:
        await call
    except MatterError as err:
        return {"exception": type(err).__name__, "error_code": err.error_code, "details": str(err)}
    return {"exception": None}


async def outcome(call: Any) -> dict[str, Any]:
    """{"result": ...} or {"exception": ..., "details": ...}: how the client took a call."""
    try:
        result = await asyncio.wait_for(call, TIMEOUT)
    except Exception as err:  # noqa: BLE001 - reported, the test decides
        return {"exception": type(err).__name__, "details": str(err)}
    return {"result": dataclass_to_dict(result) if is_dataclass(result) else result}


async def run(args: argparse.Namespace, steps: Steps) -> None:
    async with aiohttp.ClientSession() as session:
        client = MatterClient(args.url, session)
        steps.current = "connect"
        await client.connect()
        ready = asyncio.Event()
        listening = asyncio.create_task(client.start_listening(ready))
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({listening, waiting}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if listening.done():
            listening.result()  # raises what ended it
            raise RuntimeError("start_listening ended before the initial node list")
        if not ready.is_set():
            raise TimeoutError("no answer to start_listening")
        info = client.server_info
        await steps.done(
            "connect",
            schema_version=info.schema_version,
            min_supported_schema_version=info.min_supported_schema_version,
            sdk_version=info.sdk_version,
            fabric_id=info.fabric_id,
            compressed_fabric_id=info.compressed_fabric_id,
            nodes=len(client.get_nodes()),
        )

        steps.current = "errors"
        await steps.done(
            "errors",
            get_unknown_node=await refused(client.send_command(APICommand.GET_NODE, node_id=UNKNOWN_NODE)),
            read_unknown_node=await refused(client.read_attribute(UNKNOWN_NODE, "1/6/0")),
            unknown_command=await refused(client.send_command("no_such_command")),
        )

        steps.current = "commission"
        added = expect_event(client, EventType.NODE_ADDED)
        if args.ip is None:
            # the client's own call: the server finds the device by mDNS
            data = await asyncio.wait_for(client.commission_with_code(args.code), COMMISSION_TIMEOUT)
        else:
            # the same command with our server's extension (the device's address, for
            # networks without mDNS), sent through the client's generic send_command
            raw = await asyncio.wait_for(
                client.send_command(
                    APICommand.COMMISSION_WITH_CODE, code=args.code, network_only=True, ip_addr=args.ip, port=args.port
                ),
                COMMISSION_TIMEOUT,
            )
            data = dataclass_from_dict(MatterNodeData, raw)
        node = await asyncio.wait_for(added, TIMEOUT)
        node_id = data.node_id
        light = next(ep for ep in node.endpoints.values() if ep.has_cluster(ON_OFF))
        await steps.done(
            "commission",
            node_id=node_id,
            same_node=node.node_id == node_id,
            available=node.available,
            vendor_name=node.device_info.vendorName,
            product_name=node.device_info.productName,
            serial_number=node.device_info.serialNumber,
            endpoints=sorted(node.endpoints),
            light_endpoint=light.endpoint_id,
            device_types=sorted(t.__name__ for t in light.device_types),
            on=light.get_attribute_value(ON_OFF, ON_OFF.Attributes.OnOff),
            nodes=[n.node_id for n in client.get_nodes()],
        )

        path = f"{light.endpoint_id}/{ON_OFF.id}/{ON_OFF.Attributes.OnOff.attribute_id}"
        steps.current = "toggle"
        updated = expect_event(client, EventType.ATTRIBUTE_UPDATED, node_filter=node_id, attr_path_filter=path)
        result = await asyncio.wait_for(
            client.send_device_command(node_id, light.endpoint_id, ON_OFF.Commands.Toggle()), TIMEOUT
        )
        await steps.done("toggle", result=result)

        steps.current = "attribute_updated"
        value = await asyncio.wait_for(updated, TIMEOUT)
        await steps.done(
            "attribute_updated",
            path=path,
            value=value,
            cached=light.get_attribute_value(ON_OFF, ON_OFF.Attributes.OnOff),
        )

        # the test switches the light on the device itself before answering the last step
        steps.current = "device_change"
        updated = expect_event(client, EventType.ATTRIBUTE_UPDATED, node_filter=node_id, attr_path_filter=path)
        await steps.done("device_change_ready", path=path)
        value = await asyncio.wait_for(updated, TIMEOUT)
        await steps.done("device_change", value=value)

        steps.current = "read_attribute"
        values = await asyncio.wait_for(client.read_attribute(node_id, path), TIMEOUT)
        await steps.done("read_attribute", values=values)

        # what Home Assistant's device page and diagnostics call: each outcome is reported,
        # not raised, so one missing command does not hide the others
        steps.current = "extras"
        await steps.done(
            "extras",
            ping_node=await outcome(client.ping_node(node_id)),
            get_node_ip_addresses=await outcome(client.get_node_ip_addresses(node_id)),
            get_matter_fabrics=await outcome(client.get_matter_fabrics(node_id)),
            node_diagnostics=await outcome(client.node_diagnostics(node_id)),
            get_diagnostics=await outcome(client.get_diagnostics()),
            interview_node=await outcome(client.interview_node(node_id)),
        )

        steps.current = "remove_node"
        removed = expect_event(client, EventType.NODE_REMOVED)
        await asyncio.wait_for(client.remove_node(node_id), TIMEOUT)
        removed_id = await asyncio.wait_for(removed, TIMEOUT)
        await steps.done("remove_node", removed=removed_id, nodes=[n.node_id for n in client.get_nodes()])

        steps.current = "disconnect"
        await client.disconnect()
        await asyncio.wait_for(listening, TIMEOUT)
        await steps.done("disconnect", warnings=WARNINGS.messages)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server's WebSocket URL (ws://host:port/ws)")
    parser.add_argument("--code", required=True, help="the device's manual pairing code or MT: QR payload")
    parser.add_argument("--ip", help="the device's address (our server's extension; omit to use mDNS)")
    parser.add_argument("--port", type=int, help="the device's UDP port, with --ip")
    parser.add_argument("--step-by-step", action="store_true", help="wait for a line on stdin after each step")
    args = parser.parse_args()
    steps = Steps(args.step_by_step)
    logging.getLogger("matter_server").addHandler(WARNINGS)
    logging.getLogger("chip").addHandler(WARNINGS)
    try:
        asyncio.run(run(args, steps))
    except BaseException as err:  # noqa: BLE001 - every failure is reported as a step
        if isinstance(err, KeyboardInterrupt):
            raise
        print(
            json.dumps(
                {
                    "step": steps.current,
                    "error": f"{type(err).__name__}: {err}",
                    "traceback": traceback.format_exc(),
                }
            ),
            flush=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
