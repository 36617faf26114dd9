"""The baseline of ``storehub bench rtt``: a plain paho-mqtt client that echoes requests.

It stands where the hub stands — logged in as the hub's user, subscribed to every
till's requests — but does nothing a real hub must do (no validation, no actors, no
asyncio, no pydantic): it reads the request id and arguments and answers at once on
the request's MQTT 5 Response Topic with its Correlation Data.  The round trip it
gives is "two plain paho clients echoing through the same Mosquitto", the floor the
hub is measured against.

    python -m hub.bench.echo --port 18830 --store bench < password

The password comes on the first line of stdin, never on the command line (where
``ps`` would show it).  Once subscribed it prints ``ready`` on stdout.  It stops on
SIGTERM, SIGINT or when stdin closes (so it never outlives a bench that died).
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import sys
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

#: Same keepalive as the hub's own connection, so both phases hold the same session.
KEEPALIVE_S = 10

#: The hub's user name on the broker (bus.broker.HUB_USERNAME; not imported, so this
#: process loads nothing of the project and stays a plain paho client).
HUB_USERNAME = "hub"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hub.bench.echo", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="broker address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="broker port")
    parser.add_argument("--store", required=True, help="store id: answers storehub/v1/{store}/client/+/req/+")
    args = parser.parse_args(argv)
    password = sys.stdin.readline().rstrip("\n")
    prefix = f"storehub/v1/{args.store}"

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-echo-{args.store}", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(HUB_USERNAME, password)

    def on_connect(client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            print(f"bench echo: the broker refused the login: {reason}", file=sys.stderr, flush=True)
            client.disconnect()
            return
        # QoS 1 both ways, as the hub subscribes and answers.
        client.subscribe(f"{prefix}/client/+/req/+", qos=1)

    def on_subscribe(client, userdata, mid, reason_codes, properties) -> None:
        print("ready", flush=True)

    def on_message(client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            request = json.loads(message.payload)
            answer = {"request_id": request.get("request_id"), "ok": True, "result": {"echo": request.get("args", {})}}
        except (ValueError, AttributeError):
            answer = {"request_id": None, "ok": False, "error": {"code": "invalid_request", "message": "not JSON"}}
        props = message.properties
        reply_to = getattr(props, "ResponseTopic", None)
        if not reply_to:
            # No Response Topic: the till's own res topic, as the hub would answer.
            reply_to = "/".join(message.topic.split("/")[:5]) + "/res"
        out = None
        correlation = getattr(props, "CorrelationData", None)
        if correlation:
            out = Properties(PacketTypes.PUBLISH)
            out.CorrelationData = correlation
        client.publish(reply_to, json.dumps(answer).encode(), qos=1, properties=out)

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    # The hub's connection turns Nagle's algorithm off (bus.mqtt); so does the
    # baseline, or it would measure the 40 ms delayed-ACK wait instead of the broker.
    client.on_socket_open = lambda client, userdata, sock: sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def stop(*_args: object) -> None:
        client.disconnect()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def stop_when_stdin_closes() -> None:
        sys.stdin.read()
        client.disconnect()

    threading.Thread(target=stop_when_stdin_closes, name="stdin-watch", daemon=True).start()

    client.connect(args.host, args.port, KEEPALIVE_S)
    client.loop_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
