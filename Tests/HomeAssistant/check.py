"""The checks of Tests/HomeAssistant/run, against a running Home Assistant, its mosquitto and a
board publishing Tests/HomeAssistant/board.json (the sensorloop program, or standin.py):

1. the REST API answers with the long-lived token;
2. the board's entities appear (found by their friendly names, "<board> <task>", "<board>
   <task> <key>" for one value of a `sensor` of several) with the names, units, device
   classes, state classes and states the board's records imply (a `sensor`'s: the values of
   the fake sysfs tree the run script wrote, read back here as the IIO ABI defines them);
3. over the websocket API: one device for the board (its identifiers, name, manufacturer), every
   entity registered to it with its unique id, no other entity, and the button's three device
   triggers;
4. a switch turned on, then off, in Home Assistant (REST service calls): the command arrives
   on the broker (`<prefix>/lines/relay/set`, seen by an MQTT subscriber), the board applies
   it (its `command` record in the board's output) and confirms it (Home Assistant's state
   follows the board's state topic); the same for the pwm and pwm_hw tasks' duties, each a
   `number` set to 60 (for the pwm_hw also its task's `duty` record, and its fake chip's
   `duty_cycle` before and after: the configured duty, then 60 % of the period); a pwm_hw a
   curve drives shows the curve's duties, and its chip's `duty_cycle` is the last of them; a
   `switch` task toggled by the sim's button presses reports each, and Home Assistant shows
   the last;
5. the board killed (SIGKILL): the broker publishes its last will and every entity becomes
   `unavailable`;
6. Home Assistant's log (--ha-log) has no warning or error from MQTT or an entity platform:
   what Home Assistant says when it refuses a discovery message, or takes an entity but
   objects to it (a unit its device class does not allow, a state it cannot parse).

Prints one `ok` or `FAIL` line per check and exits 1 if any failed.

Usage: check.py --url URL --token-file F --mqtt-port P --board BOARD_JSON --board-pid PID
                --board-output FILE [--ha-log FILE]
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request

import aiohttp
import paho.mqtt.client as mqtt


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def ok(self, what: str) -> None:
        self.passed += 1
        print(f"ok   {what}", flush=True)

    def fail(self, what: str) -> None:
        self.failed += 1
        print(f"FAIL {what}", flush=True)

    def check(self, condition: bool, what: str, why: str = "") -> bool:
        if condition:
            self.ok(what)
        else:
            self.fail(f"{what}: {why}" if why else what)
        return condition


class HA:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def states(self) -> dict[str, dict]:
        """Every state by friendly name."""
        status, body = self.request("GET", "/api/states")
        if status != 200:
            raise RuntimeError(f"GET /api/states: HTTP {status}: {body}")
        return {s["attributes"].get("friendly_name", s["entity_id"]): s for s in body}


def wait_for(predicate, timeout: float, step: float = 0.5):
    """Calls predicate until it returns something truthy or timeout seconds pass; returns the
    last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def expected_entities(board: dict) -> list[dict]:
    """What Home Assistant must show for Tests/HomeAssistant/board.json: one entry per entity,
    with the attributes it must have (None: must be absent) and a test of its state."""
    device = board["board"]
    temps = {v * 0.001 for f in board["sim"]["files"] for v in f["values"]}

    def number(text: str) -> float | None:
        try:
            return float(text)
        except ValueError:
            return None

    def integer(text: str) -> bool:
        return number(text) is not None and float(text).is_integer()

    curves = curve_duties(board)

    return [
        {
            "name": f"{device} soc_temp", "domain": "sensor", "unique_id": "ha_board_soc_temp",
            "attributes": {"unit_of_measurement": "°C", "device_class": "temperature",
                           "state_class": "measurement"},
            "state": lambda s: number(s) is not None and any(abs(number(s) - t) < 0.01 for t in temps),
            "state_text": f"one of the sampler's values {sorted(temps)}",
        },
        {
            "name": f"{device} wind", "domain": "sensor", "unique_id": "ha_board_wind",
            "attributes": {"unit_of_measurement": "km/h", "device_class": "wind_speed",
                           "state_class": "measurement"},
            # 10 Hz pulses, a 1 s window, 2.4 km/h per pulse per second: 24 (one pulse either way
            # at a window's edge).
            "state": lambda s: number(s) is not None and 21.5 <= number(s) <= 26.5,
            "state_text": "24 km/h (10 Hz x 2.4), 21.6...26.4",
        },
        {
            "name": f"{device} knob", "domain": "sensor", "unique_id": "ha_board_knob",
            "attributes": {"unit_of_measurement": None, "device_class": None, "state_class": "measurement"},
            "state": integer,
            "state_text": "an integer position",
        },
        {
            "name": f"{device} fan", "domain": "binary_sensor", "unique_id": "ha_board_fan",
            "attributes": {"device_class": None},
            "state": lambda s: s in ("on", "off"),
            "state_text": "on or off",
        },
        {
            "name": f"{device} dimmer", "domain": "number", "unique_id": "ha_board_dimmer",
            "attributes": {"unit_of_measurement": "%", "min": 0, "max": 100, "step": 1, "mode": "slider"},
            "state": lambda s: number(s) == 25,
            "state_text": "25 (the pwm task's duty_percent)",
        },
        {
            "name": f"{device} relay", "domain": "switch", "unique_id": "ha_board_line_relay",
            "attributes": {},
            "state": lambda s: s == "off",
            "state_text": "off (the line's initial 0)",
        },
    ] + sensor_entities(board, number) + [
        {
            "name": f"{device} {t['name']}", "domain": "number", "unique_id": f"ha_board_{t['name']}",
            "attributes": {"unit_of_measurement": "%", "min": 0, "max": 100, "step": 1, "mode": "slider"},
            "state": lambda s, duty=t["duty_percent"]: number(s) == duty,
            "state_text": f"{t['duty_percent']} (the pwm_hw task's duty_percent, its duty record)",
        } if t["name"] not in curves else {
            "name": f"{device} {t['name']}", "domain": "number", "unique_id": f"ha_board_{t['name']}",
            "attributes": {"unit_of_measurement": "%", "min": 0, "max": 100, "step": 1, "mode": "slider"},
            "state": lambda s, duties=curves[t["name"]]: number(s) in duties,
            "state_text": f"a duty its curve gives for the sampler's values {sorted(curves[t['name']])}",
        }
        for t in board["tasks"] if t["kind"] == "pwm_hw"
    ] + [
        {
            "name": f"{device} {t['name']}", "domain": "sensor", "unique_id": f"ha_board_{t['name']}",
            "attributes": {"unit_of_measurement": "%", "device_class": None, "state_class": "measurement"},
            "state": lambda s, duties=curves[t["pwm"]]: number(s) in duties,
            "state_text": f"a duty the curve gives for the sampler's values {sorted(curves[t['pwm']])}",
        }
        for t in board["tasks"] if t["kind"] == "curve"
    ] + [
        {
            "name": f"{device} {t['name']}", "domain": "binary_sensor", "unique_id": f"ha_board_{t['name']}",
            "attributes": {"device_class": None},
            "state": lambda s: s in ("on", "off"),
            "state_text": "on or off",
        }
        for t in board["tasks"] if t["kind"] == "switch"
    ]


def curve_duty(points: list, reading: float) -> float:
    """A curve's duty for `reading`: linear between the points around it, clamped at the ends
    (Boards/README.md, `curve`; no hysteresis)."""
    if reading <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        if reading <= x1:
            return y0 + (y1 - y0) * (reading - x0) / (x1 - x0)
    return points[-1][1]


def curve_duties(board: dict) -> dict[str, set]:
    """The duties each curve-driven pwm task can show, by pwm task: the curve's duty for each
    of the sampler file's values (the board's only curve source), to the record's one decimal."""
    temps = [v * 0.001 for f in board["sim"]["files"] for v in f["values"]]
    return {t["pwm"]: {round(curve_duty(t["points"], x), 1) for x in temps}
            for t in board["tasks"] if t["kind"] == "curve"}


# What a `sensor` task's iio channel reports: its record key, its unit in Home Assistant, the
# device class, and the factor from the IIO ABI's unit (milli-degrees C, milli-%RH, kPa, mV).
IIO_CHANNELS = {
    "in_temp": ("temperature", "°C", "temperature", 0.001),
    "in_humidityrelative": ("humidity", "%", "humidity", 0.001),
    "in_pressure": ("pressure", "kPa", "pressure", 1.0),
    "in_voltage0": ("value", "V", "voltage", 0.001),
}


def iio_value(root: str, device: str, channel: str) -> float:
    """A channel's value as the IIO ABI defines it, read from the fake tree the run script wrote:
    `_input`, else `(_raw + _offset) x _scale`, in the channel type's unit."""
    devices = os.path.join(root, "bus/iio/devices")
    for d in sorted(os.listdir(devices)):
        base = os.path.join(devices, d)
        if open(os.path.join(base, "name")).read().strip() != device:
            continue
        def read(suffix: str, default: float | None = None) -> float:
            path = os.path.join(base, channel + suffix)
            return float(open(path).read()) if os.path.exists(path) or default is None else default
        if os.path.exists(os.path.join(base, channel + "_input")):
            value = read("_input")
        else:
            value = (read("_raw") + read("_offset", 0)) * read("_scale", 1)
        return value * IIO_CHANNELS[channel][3]
    raise RuntimeError(f"no IIO device {device!r} under {devices}")


def sensor_entities(board: dict, number) -> list[dict]:
    """The `sensor` tasks' entities: one per value (`<task> <key>`, unique id
    `<client_id>_<task>_<key>`) for a task of several channels, one (`<task>`) for one channel;
    states the values of the fake sysfs tree, to the record's 3 decimals."""
    device, node = board["board"], board["mqtt"]["client_id"]
    out = []
    for t in board["tasks"]:
        if t["kind"] != "sensor":
            continue
        src = t["source"]
        channels = src["channels"] if isinstance(src["channels"], list) else [src["channels"]]
        for channel in channels:
            key, unit, device_class, _ = IIO_CHANNELS[channel]
            want = round(iio_value(src["sysfs_root"], src["device"], channel), 3)
            several = len(channels) > 1
            out.append({
                "name": f"{device} {t['name']} {key}" if several else f"{device} {t['name']}",
                "domain": "sensor",
                "unique_id": f"{node}_{t['name']}_{key}" if several else f"{node}_{t['name']}",
                "attributes": {"unit_of_measurement": unit, "device_class": device_class,
                               "state_class": "measurement"},
                "state": lambda s, want=want: number(s) is not None and abs(number(s) - want) < 0.0005,
                "state_text": f"{want} (the fake {src['device']}'s {channel})",
            })
    return out


def check_entities(ha: HA, board: dict, report: Report, timeout: float) -> dict[str, str]:
    """Checks 2; returns entity ids by friendly name."""
    expected = expected_entities(board)
    names = [e["name"] for e in expected]
    states = wait_for(lambda: (lambda s: s if all(n in s for n in names) else None)(ha.states()), timeout, 1.0)
    states = states or ha.states()
    found = {}
    for e in expected:
        s = states.get(e["name"])
        if not s:
            mqtt_like = sorted(n for n in states if n.startswith(board["board"]))
            report.fail(f"entity '{e['name']}' appears in Home Assistant: not there after {timeout:.0f} s "
                        f"(entities of the board: {mqtt_like or 'none'}; {len(states)} states in all)")
            continue
        found[e["name"]] = s["entity_id"]
        report.check(s["entity_id"].startswith(e["domain"] + "."), f"'{e['name']}' is a {e['domain']}",
                     f"it is {s['entity_id']}")
    # States arrive with the board's records (every second; a threshold only when it crosses).
    def settled():
        now = ha.states()
        return now if all(e["state"](now[e["name"]]["state"]) for e in expected if e["name"] in now) else None

    states = wait_for(settled, 30, 1.0) or ha.states()
    for e in expected:
        s = states.get(e["name"])
        if not s:
            continue
        attrs = s["attributes"]
        for key, want in e["attributes"].items():
            have = attrs.get(key)
            report.check(have == want, f"{s['entity_id']} {key} = {want!r}", f"it is {have!r}")
        report.check(e["state"](s["state"]), f"{s['entity_id']} state {s['state']!r} is {e['state_text']}",
                     f"state is {s['state']!r}")
    return found


async def websocket_checks(url: str, token: str, board: dict, entity_ids: dict[str, str], report: Report) -> None:
    """Checks 3."""
    ws_url = url.replace("http://", "ws://").rstrip("/") + "/api/websocket"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url) as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": token})
            auth = await ws.receive_json()
            if not report.check(auth["type"] == "auth_ok", "websocket API accepts the token", str(auth)):
                return
            ids = iter(range(1, 1000))

            async def call(message: dict):
                n = next(ids)
                await ws.send_json({"id": n, **message})
                while True:
                    r = await ws.receive_json()
                    if r.get("id") == n:
                        if not r.get("success"):
                            raise RuntimeError(f"{message['type']}: {r.get('error')}")
                        return r["result"]

            devices = await call({"type": "config/device_registry/list"})
            node = board["mqtt"]["client_id"]
            mine = [d for d in devices if ["mqtt", node] in d["identifiers"]]
            if not report.check(len(mine) == 1, f"one device with identifiers [mqtt, {node}]",
                                f"{len(mine)} found among {len(devices)}"):
                return
            device = mine[0]
            report.check(device["name"] == board["board"], f"device name {board['board']!r}", repr(device["name"]))
            report.check(device["manufacturer"] == "sensorloop", "device manufacturer 'sensorloop'",
                         repr(device["manufacturer"]))
            entities = await call({"type": "config/entity_registry/list"})
            by_id = {e["entity_id"]: e for e in entities}
            for e in expected_entities(board):
                entity_id = entity_ids.get(e["name"])
                if not entity_id:
                    continue
                reg = by_id.get(entity_id, {})
                report.check(reg.get("device_id") == device["id"] and reg.get("platform") == "mqtt"
                             and reg.get("unique_id") == e["unique_id"],
                             f"{entity_id}: mqtt entity {e['unique_id']} of the board's device",
                             f"registry: platform {reg.get('platform')}, unique_id {reg.get('unique_id')}, "
                             f"device {reg.get('device_id')}")
            registered = sorted(e["unique_id"] for e in entities if e.get("device_id") == device["id"])
            expected = sorted(e["unique_id"] for e in expected_entities(board))
            report.check(registered == expected, f"the board's device has exactly the {len(expected)} entities expected",
                         f"extra: {sorted(set(registered) - set(expected))}, "
                         f"missing: {sorted(set(expected) - set(registered))}")
            triggers = await call({"type": "device_automation/trigger/list", "device_id": device["id"]})
            have = sorted((t.get("type"), t.get("subtype")) for t in triggers if t.get("domain") == "mqtt")
            want = sorted([("button_short_press", "button"), ("button_short_release", "button"),
                           ("button_long_press", "button")])
            report.check(have == want, "the button's device triggers: press, release, long press", f"{have}")


class Subscriber:
    """An MQTT subscriber on the test's broker: the messages on one topic, in order."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(client_id=f"ha-check-{os.getpid()}", clean_session=True)
        self.client.on_connect = lambda c, u, f, rc: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, q: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.connect("127.0.0.1", port, keepalive=30)
        self.client.loop_start()

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def command_records(path: str, line: str, key: str = "line", field: str = "value") -> list:
    """The `field` of the board's `command` records whose `key` is `line`, in order."""
    values = []
    with open(path, errors="replace") as f:
        for text in f:
            try:
                r = json.loads(text)
            except ValueError:
                continue
            if r.get("task") == "mqtt" and r.get("event") == "command" and r.get(key) == line:
                values.append(r.get(field))
    return values


def check_switch(ha: HA, args, board: dict, entity_id: str, report: Report) -> None:
    """Checks 4."""
    prefix = board["mqtt"]["topic_prefix"]
    topic = f"{prefix}/lines/relay/set"
    sub = Subscriber(args.mqtt_port, topic)
    try:
        if not report.check(sub.subscribed.wait(10), f"subscribed to {topic}", "no SUBACK in 10 s"):
            return
        for service, payload, state, value in (("turn_on", b"ON", "on", True), ("turn_off", b"OFF", "off", False)):
            before = len(sub.messages)
            status, body = ha.request("POST", f"/api/services/switch/{service}", {"entity_id": entity_id})
            report.check(status == 200, f"POST /api/services/switch/{service} {entity_id}", f"HTTP {status}: {body}")
            arrived = wait_for(lambda: len(sub.messages) > before, 10, 0.1)
            got = sub.messages[before:]
            report.check(arrived and got[0] == (topic, payload), f"the broker carries {topic} {payload.decode()}",
                         f"seen: {got or 'nothing in 10 s'}")
            records = wait_for(lambda: command_records(args.board_output, "relay")[-1:] == [value], 10, 0.2)
            report.check(bool(records), f"the board applied it: a command record relay value={str(value).lower()}",
                         f"command records for relay: {command_records(args.board_output, 'relay')}")
            confirmed = wait_for(lambda: ha.states()[f"{board['board']} relay"]["state"] == state, 10, 0.2)
            report.check(bool(confirmed), f"{entity_id} is {state} (the board's state topic confirms)",
                         f"state is {ha.states()[board['board'] + ' relay']['state']!r} after 10 s")
    finally:
        sub.stop()


def duty_records(path: str, task: str) -> list:
    """The duty_percent of task `task`'s own `duty` records (a pwm_hw's), in order."""
    values = []
    with open(path, errors="replace") as f:
        for text in f:
            try:
                r = json.loads(text)
            except ValueError:
                continue
            if r.get("task") == task and r.get("event") == "duty":
                values.append(r.get("duty_percent"))
    return values


def pwm_file(board: dict, task: dict, attribute: str) -> str:
    """A pwm_hw task's channel attribute in the fake tree (its only chip, pwmchip0)."""
    path = os.path.join(task["sysfs_root"], "class/pwm/pwmchip0", f"pwm{task.get('channel', 0)}", attribute)
    try:
        return open(path).read().strip()
    except OSError as e:
        return f"<{e.strerror}>"


def check_number(ha: HA, args, board: dict, task: str, entity_id: str, report: Report) -> None:
    """Checks 4 for a PWM's duty: number.set_value 60 in Home Assistant. For a pwm_hw also its
    fake chip: enabled with the configured duty at start, and 60 % of the period after."""
    prefix = board["mqtt"]["topic_prefix"]
    topic = f"{prefix}/{task}/duty/set"
    config = next(t for t in board["tasks"] if t["name"] == task)
    hardware = config["kind"] == "pwm_hw"
    period = None
    if hardware:
        period_text = pwm_file(board, config, "period")
        want_period = config["period_us"] * 1000
        report.check(period_text == str(want_period) and pwm_file(board, config, "enable") == "1",
                     f"the fake chip's pwm0: period {want_period} ns, enabled",
                     f"period {period_text!r}, enable {pwm_file(board, config, 'enable')!r}")
        period = int(period_text) if period_text.isdigit() else want_period
        start = round(period * config["duty_percent"] / 100)
        report.check(pwm_file(board, config, "duty_cycle") == str(start),
                     f"the fake chip's duty_cycle {start} ns: {config['duty_percent']} % at start",
                     f"duty_cycle is {pwm_file(board, config, 'duty_cycle')!r}")
    sub = Subscriber(args.mqtt_port, topic)
    try:
        if not report.check(sub.subscribed.wait(10), f"subscribed to {topic}", "no SUBACK in 10 s"):
            return
        status, body = ha.request("POST", "/api/services/number/set_value", {"entity_id": entity_id, "value": 60})
        report.check(status == 200, f"POST /api/services/number/set_value {entity_id} 60", f"HTTP {status}: {body}")
        wait_for(lambda: sub.messages, 10, 0.1)
        report.check(sub.messages[:1] == [(topic, b"60")], f"the broker carries {topic} 60",
                     f"seen: {sub.messages or 'nothing in 10 s'}")
        applied = wait_for(lambda: command_records(args.board_output, task, "pwm", "duty_percent")[-1:] == [60],
                           10, 0.2)
        report.check(bool(applied), f"the board applied it: a command record pwm {task} duty_percent=60",
                     f"records: {command_records(args.board_output, task, 'pwm', 'duty_percent')}")
        if hardware:
            took = wait_for(lambda: duty_records(args.board_output, task)[-1:] == [60], 10, 0.2)
            report.check(bool(took), f"the chip took it: {task}'s duty record duty_percent=60",
                         f"duty records: {duty_records(args.board_output, task)}")
        name = f"{board['board']} {task}"
        confirmed = wait_for(lambda: ha.states()[name]["state"] in ("60", "60.0"), 10, 0.2)
        report.check(bool(confirmed), f"{entity_id} is 60 (the board's duty topic confirms)",
                     f"state is {ha.states()[name]['state']!r} after 10 s")
        if hardware:
            want = round(period * 60 / 100)
            report.check(pwm_file(board, config, "duty_cycle") == str(want),
                         f"the fake chip's duty_cycle {want} ns: 60 % of the period",
                         f"duty_cycle is {pwm_file(board, config, 'duty_cycle')!r}")
    finally:
        sub.stop()


def switch_records(path: str, task: str) -> list[str]:
    """The events (`on`/`off`) of switch task `task`'s records, in order."""
    events = []
    with open(path, errors="replace") as f:
        for text in f:
            try:
                r = json.loads(text)
            except ValueError:
                continue
            if r.get("task") == task and r.get("event") in ("on", "off"):
                events.append(r["event"])
    return events


def check_switch_task(ha: HA, args, board: dict, task: dict, entity_id: str, report: Report) -> None:
    """A `switch` task toggled by the button: its initial state and one change per press of
    the sim's stimuli, and Home Assistant's state the last of them."""
    presses = sum(s.get("count", 1) for s in board["sim"]["stimuli"]
                  if s["kind"] == "press" and s["line"] == next(t["line"] for t in board["tasks"]
                                                                 if t["name"] == task["source"]))
    want = ["off"] + ["on" if i % 2 == 0 else "off" for i in range(presses)]
    done = wait_for(lambda: switch_records(args.board_output, task["name"]) == want, 20, 0.5)
    report.check(bool(done), f"{task['name']}: the switch's records {' '.join(want)} ({presses} presses toggle it)",
                 f"records: {switch_records(args.board_output, task['name'])}")
    name = f"{board['board']} {task['name']}"
    confirmed = wait_for(lambda: ha.states()[name]["state"] == want[-1], 10, 0.5)
    report.check(bool(confirmed), f"{entity_id} is {want[-1]}, the switch's last record",
                 f"state is {ha.states()[name]['state']!r}")


def check_ruled_pwm_hw(args, board: dict, task: dict, report: Report) -> None:
    """A pwm_hw a curve drives: its fake chip's duty_cycle is its last duty record's duty."""
    period = task["period_us"] * 1000

    def agree():
        duties = duty_records(args.board_output, task["name"])
        return duties and pwm_file(board, task, "duty_cycle") == str(round(period * duties[-1] / 100))

    agreed = wait_for(agree, 10, 0.2)
    report.check(bool(agreed), f"{task['name']}: the fake chip's pwm{task.get('channel', 0)} duty_cycle is the curve's "
                 "last duty, as its duty record says",
                 f"duty records {duty_records(args.board_output, task['name'])}, "
                 f"duty_cycle {pwm_file(board, task, 'duty_cycle')!r} of {period}")


def check_availability(ha: HA, args, names: list[str], report: Report) -> None:
    """Checks 5."""
    os.kill(args.board_pid, signal.SIGKILL)
    gone = wait_for(lambda: all(ha.states()[n]["state"] == "unavailable" for n in names), 20, 0.5)
    states = ha.states()
    report.check(bool(gone), f"board killed: its {len(names)} entities become unavailable (last will)",
                 ", ".join(f"{n}: {states[n]['state']}" for n in names))


# The loggers that speak about the board's discovery messages and entities.
ENTITY_LOGGERS = ("homeassistant.components.mqtt", "homeassistant.components.sensor",
                  "homeassistant.components.number", "homeassistant.components.switch",
                  "homeassistant.components.binary_sensor", "homeassistant.components.device_automation",
                  "homeassistant.helpers.entity", "homeassistant.helpers.template")


def check_log(path: str, report: Report) -> None:
    """Checks 6."""
    complaints = []
    with open(path, errors="replace") as f:
        for line in f:
            # `2024-... WARNING (MainThread) [homeassistant.components.sensor] ...`
            parts = line.split(" ", 4)
            if len(parts) == 5 and parts[2] in ("WARNING", "ERROR", "CRITICAL"):
                logger = parts[4].split("]", 1)[0].lstrip("[")
                if logger.startswith(ENTITY_LOGGERS):
                    complaints.append(line.strip()[:400])
    report.check(not complaints, "Home Assistant's log: no warning or error about MQTT or an entity",
                 "\n     " + "\n     ".join(complaints))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--token-file", required=True)
    p.add_argument("--mqtt-port", type=int, required=True)
    p.add_argument("--board", required=True)
    p.add_argument("--board-pid", type=int, required=True)
    p.add_argument("--board-output", required=True)
    p.add_argument("--ha-log")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    board = json.load(open(args.board))
    token = open(args.token_file).read().strip()
    ha = HA(args.url, token)
    report = Report()
    started = time.monotonic()

    status, body = ha.request("GET", "/api/")
    if not report.check(status == 200, "REST API answers with the long-lived token", f"HTTP {status}: {body}"):
        return 1
    entity_ids = check_entities(ha, board, report, args.timeout)
    print(f"     (entities and states checked {time.monotonic() - started:.1f} s after the API answered)")
    asyncio.run(websocket_checks(args.url, token, board, entity_ids, report))
    relay = entity_ids.get(f"{board['board']} relay")
    if relay:
        check_switch(ha, args, board, relay, report)
    else:
        report.fail("switch checks: no relay switch in Home Assistant")
    ruled = {t["pwm"] for t in board["tasks"] if t["kind"] in ("curve", "threshold") and "pwm" in t}
    for task in [t["name"] for t in board["tasks"] if t["kind"] in ("pwm", "pwm_hw") and t["name"] not in ruled]:
        entity_id = entity_ids.get(f"{board['board']} {task}")
        if entity_id:
            check_number(ha, args, board, task, entity_id, report)
        else:
            report.fail(f"number checks: no {task} number in Home Assistant")
    for task in [t for t in board["tasks"] if t["kind"] == "pwm_hw" and t["name"] in ruled]:
        check_ruled_pwm_hw(args, board, task, report)
    for task in [t for t in board["tasks"] if t["kind"] == "switch"]:
        entity_id = entity_ids.get(f"{board['board']} {task['name']}")
        if entity_id:
            check_switch_task(ha, args, board, task, entity_id, report)
    if entity_ids:
        check_availability(ha, args, list(entity_ids), report)
    if args.ha_log:
        check_log(args.ha_log, report)
    print(f"checks: {report.passed + report.failed}, ok {report.passed}, failed {report.failed}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
