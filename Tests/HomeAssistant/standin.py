"""A stand-in for `sensorloop --config board.json` with an `mqtt` section, for when the program
in this tree has no MQTT yet: publishes what the program publishes (the topic layout and
discovery payloads of README.md's "MQTT"), with paho-mqtt (installed with Home Assistant).

- availability `<prefix>/status`: `online` retained, `offline` as the last will;
- discovery configs, retained, under `<discovery_prefix>/<component>/<client_id>/<object>/config`:
  readings (`sampler`, `pulse_counter`) and the encoder's position as `sensor`, a threshold as
  `binary_sensor`, a button's press/release/long press as device triggers, every output line no
  task drives as `switch`;
- records as JSON on `<prefix>/<task>/<event>` (a threshold's on/off on `<prefix>/<task>/state`);
- commands on `<prefix>/lines/<line>/set` (ON/OFF/TOGGLE), confirmed on `.../state`, retained,
  and printed as a record (`{"task":"mqtt","event":"command","line":...,"value":...}`), as the
  program prints its records on stdout; a `pwm` task as a `number` (0...100 %), its duty set on
  `<prefix>/<task>/duty/set` and confirmed on `<prefix>/<task>/duty`;
- a `sensor` task (the `iio` preset only) read from its `sysfs_root` as the IIO ABI defines
  it (`_input`, else `(_raw + _offset) x _scale`), one `sensor` per value for several channels;
- a `pwm_hw` task on its `sysfs_root`'s pwmchip0: period, duty and enable written at start, a
  `number` whose state is the task's `duty` record, a duty command written to `duty_cycle`;
- a `curve` from a sampler to a `pwm_hw` (its duty record on `<prefix>/<task>/duty`, a
  `sensor`), and a `switch` task toggled by a button (`binary_sensor` on `<prefix>/<task>/state`),
  its presses taken from the `sim` section's `press` stimuli at whole seconds.

Readings follow the board's `sim` section roughly (the file values in turn, pulses' rate times
scale); it is a stand-in for the harness, not a simulator.

Usage: standin.py BOARD_JSON
"""

import json
import os
import sys
import time

import paho.mqtt.client as mqtt

UNITS = {
    "°C": ("°C", "temperature"),
    "C": ("°C", "temperature"),
    "km/h": ("km/h", "wind_speed"),
    "m/s": ("m/s", "wind_speed"),
    "hPa": ("hPa", "pressure"),
    "V": ("V", "voltage"),
    "%RH": ("%", "humidity"),
    "kPa": ("kPa", "pressure"),
}


# An iio channel's record key, unit as sensorloop writes it, and factor from the ABI's unit.
IIO = {
    "in_temp": ("temperature", "°C", 0.001),
    "in_humidityrelative": ("humidity", "%RH", 0.001),
    "in_pressure": ("pressure", "kPa", 1.0),
    "in_voltage0": ("value", "V", 0.001),
}


def iio_read(root: str, device: str, channel: str) -> float:
    devices = os.path.join(root, "bus/iio/devices")
    for d in sorted(os.listdir(devices)):
        base = os.path.join(devices, d)
        if open(os.path.join(base, "name")).read().strip() != device:
            continue

        def read(suffix: str, default=None) -> float:
            path = os.path.join(base, channel + suffix)
            return float(open(path).read()) if os.path.exists(path) or default is None else default

        if os.path.exists(os.path.join(base, channel + "_input")):
            return read("_input") * IIO[channel][2]
        return (read("_raw") + read("_offset", 0)) * read("_scale", 1) * IIO[channel][2]
    raise RuntimeError(f"no IIO device {device!r}")


def channels(task: dict) -> list[str]:
    c = task["source"]["channels"]
    return c if isinstance(c, list) else [c]


def record(task: str, event: str, **fields) -> dict:
    r = {"t_ns": time.monotonic_ns(), "task": task, "event": event}
    r.update(fields)
    return r


def main() -> None:
    board = json.load(open(sys.argv[1]))
    m = board["mqtt"]
    node = m["client_id"]
    prefix = m.get("topic_prefix", f"sensorloop/{node}")
    dprefix = m.get("discovery_prefix", "homeassistant")
    status = f"{prefix}/status"
    device = {
        "identifiers": [node],
        "name": board["board"],
        "manufacturer": "sensorloop",
        "model": "sensorloop",
        "sw_version": "0.1.0",
    }
    tasks = board["tasks"]
    driven = {t["line"] for t in tasks if t["kind"] in ("heartbeat", "pwm", "threshold", "switch")}
    commandable = [
        name for name, line in board["lines"].items() if line["direction"] == "output" and name not in driven
    ]
    values = {name: bool(board["lines"][name].get("initial", 0)) for name in commandable}
    duties = {t["name"]: t["duty_percent"] for t in tasks if t["kind"] == "pwm"}
    hw = {t["name"]: t for t in tasks if t["kind"] == "pwm_hw"}
    hw_duties = {name: float(t.get("duty_percent", 0)) for name, t in hw.items()}

    def pwm_write(task: str, attribute: str, value) -> None:
        t = hw[task]
        with open(os.path.join(t["sysfs_root"], "class/pwm/pwmchip0", f"pwm{t.get('channel', 0)}", attribute), "w") as f:
            f.write(str(value))

    # Switch tasks toggled by a button: their state, and the whole seconds the button is pressed.
    switches = {t["name"]: bool(board["lines"][t["line"]].get("initial", 0)) for t in tasks if t["kind"] == "switch"}
    button_lines = {t["name"]: t["line"] for t in tasks if t["kind"] == "button"}
    press_ticks = {}
    for t in tasks:
        if t["kind"] == "switch":
            ticks = []
            for st in board.get("sim", {}).get("stimuli", []):
                if st["kind"] == "press" and st["line"] == button_lines.get(t["source"]):
                    ticks += [(st["at_ms"] + i * st.get("every_ms", 0)) // 1000 + 1 for i in range(st.get("count", 1))]
            press_ticks[t["name"]] = ticks

    def duty_record(task: str) -> dict:
        return record(task, "duty", duty_percent=round(hw_duties[task], 3), period_ns=hw[task]["period_us"] * 1000)

    for name, t in hw.items():
        period = t["period_us"] * 1000
        pwm_write(name, "enable", 0)
        pwm_write(name, "period", period)
        pwm_write(name, "polarity", t.get("polarity", "normal"))
        pwm_write(name, "duty_cycle", round(period * hw_duties[name] / 100))
        pwm_write(name, "enable", 1)

    def entity(name: str, unique: str, fields: dict) -> dict:
        return {"name": name, "unique_id": f"{node}_{unique}", **fields, "availability_topic": status,
                "device": device}

    def reading_fields(task: str, unit: str, key: str = "value") -> dict:
        f = {"state_topic": f"{prefix}/{task}/reading", "value_template": f"{{{{ value_json.{key} }}}}"}
        ha_unit, device_class = UNITS.get(unit, (unit, None))
        if ha_unit:
            f["unit_of_measurement"] = ha_unit
        if device_class:
            f["device_class"] = device_class
        f["state_class"] = "measurement"
        return f

    discovery = []
    for t in tasks:
        name, kind = t["name"], t["kind"]
        if kind in ("sampler", "pulse_counter"):
            discovery.append((f"sensor/{node}/{name}", entity(name, name, reading_fields(name, t.get("unit", "")))))
        elif kind == "encoder":
            discovery.append((f"sensor/{node}/{name}", entity(name, name, {
                "state_topic": f"{prefix}/{name}/step", "value_template": "{{ value_json.position }}",
                "state_class": "measurement"})))
        elif kind == "threshold":
            discovery.append((f"binary_sensor/{node}/{name}", entity(name, name, {
                "state_topic": f"{prefix}/{name}/state", "value_template": "{{ value_json.event }}",
                "payload_on": "on", "payload_off": "off"})))
        elif kind == "button":
            events = [("press", "button_short_press"), ("release", "button_short_release")]
            if "long_press_ms" in t:
                events.append(("long_press", "button_long_press"))
            for event, kind_ in events:
                discovery.append((f"device_automation/{node}/{name}_{event}", {
                    "automation_type": "trigger", "topic": f"{prefix}/{name}/{event}", "type": kind_,
                    "subtype": name, "device": device}))
        elif kind == "pwm":
            discovery.append((f"number/{node}/{name}", entity(name, name, {
                "command_topic": f"{prefix}/{name}/duty/set", "state_topic": f"{prefix}/{name}/duty",
                "min": 0, "max": 100, "step": 1, "unit_of_measurement": "%", "mode": "slider"})))
        elif kind == "curve":
            discovery.append((f"sensor/{node}/{name}", entity(name, name, {
                "state_topic": f"{prefix}/{name}/duty", "value_template": "{{ value_json.duty_percent }}",
                "unit_of_measurement": "%", "state_class": "measurement"})))
        elif kind == "switch":
            discovery.append((f"binary_sensor/{node}/{name}", entity(name, name, {
                "state_topic": f"{prefix}/{name}/state", "value_template": "{{ value_json.event }}",
                "payload_on": "on", "payload_off": "off"})))
        elif kind == "pwm_hw":
            discovery.append((f"number/{node}/{name}", entity(name, name, {
                "command_topic": f"{prefix}/{name}/duty/set", "state_topic": f"{prefix}/{name}/duty",
                "value_template": "{{ value_json.duty_percent }}",
                "min": 0, "max": 100, "step": 1, "unit_of_measurement": "%", "mode": "slider"})))
        elif kind == "sensor" and t["source"]["preset"] == "iio":
            cs = channels(t)
            if len(cs) == 1:
                discovery.append((f"sensor/{node}/{name}", entity(name, name, reading_fields(name, IIO[cs[0]][1]))))
            else:
                for c in cs:
                    key, unit, _ = IIO[c]
                    discovery.append((f"sensor/{node}/{name}_{key}", entity(
                        f"{name} {key}", f"{name}_{key}", reading_fields(name, unit, key))))
    for line in commandable:
        discovery.append((f"switch/{node}/line_{line}", entity(line, f"line_{line}", {
            "command_topic": f"{prefix}/lines/{line}/set", "state_topic": f"{prefix}/lines/{line}/state",
            "payload_on": "ON", "payload_off": "OFF"})))

    def out(r: dict) -> None:
        print(json.dumps(r, ensure_ascii=False, separators=(",", ":")), flush=True)

    client = mqtt.Client(client_id=node, clean_session=True)
    client.will_set(status, "offline", qos=1, retain=True)

    def on_connect(c, userdata, flags, rc):
        out(record("mqtt", "connected", connections=1))
        c.publish(status, "online", qos=1, retain=True)
        for topic, payload in discovery:
            c.publish(f"{dprefix}/{topic}/config", json.dumps(payload, ensure_ascii=False), qos=0, retain=True)
        for name, on in switches.items():
            r = record(name, "on" if on else "off", initial=True)
            out(r)
            c.publish(f"{prefix}/{name}/state", json.dumps(r), qos=m.get("qos", 0), retain=True)
        for line, value in values.items():
            c.publish(f"{prefix}/lines/{line}/state", "ON" if value else "OFF", qos=m.get("qos", 0), retain=True)
        for task, duty in duties.items():
            c.publish(f"{prefix}/{task}/duty", str(duty), qos=m.get("qos", 0), retain=True)
            c.subscribe(f"{prefix}/{task}/duty/set", qos=1)
        for task in hw:
            c.publish(f"{prefix}/{task}/duty", json.dumps(duty_record(task)), qos=m.get("qos", 0), retain=True)
            c.subscribe(f"{prefix}/{task}/duty/set", qos=1)
        c.subscribe(f"{prefix}/lines/+/set", qos=1)

    def on_message(c, userdata, msg):
        parts = msg.topic.split("/")
        if msg.topic.endswith("/duty/set") and parts[-3] in hw:
            text = msg.payload.decode(errors="replace").strip()
            if not text.isdigit() or int(text) > 100:
                out(record("mqtt", "error", error="bad duty payload", topic=msg.topic, payload=text))
                return
            task = parts[-3]
            out(record("mqtt", "command", pwm=task, duty_percent=int(text)))
            hw_duties[task] = float(text)
            pwm_write(task, "duty_cycle", round(hw[task]["period_us"] * 1000 * int(text) / 100))
            r = duty_record(task)
            out(r)
            c.publish(f"{prefix}/{task}/duty", json.dumps(r), qos=m.get("qos", 0), retain=True)
            return
        if msg.topic.endswith("/duty/set") and parts[-3] in duties:
            text = msg.payload.decode(errors="replace").strip()
            if not text.isdigit() or int(text) > 100:
                out(record("mqtt", "error", error="bad duty payload", topic=msg.topic, payload=text))
                return
            duties[parts[-3]] = int(text)
            out(record("mqtt", "command", pwm=parts[-3], duty_percent=int(text)))
            c.publish(f"{prefix}/{parts[-3]}/duty", text, qos=m.get("qos", 0), retain=True)
            return
        line = parts[-2] if len(parts) >= 3 and parts[-1] == "set" else None
        word = msg.payload.decode(errors="replace").strip().lower()
        if line not in values or word not in ("on", "off", "toggle", "1", "0", "true", "false"):
            out(record("mqtt", "error", error="bad command", topic=msg.topic, payload=word))
            return
        value = (not values[line]) if word == "toggle" else word in ("on", "1", "true")
        values[line] = value
        out(record("mqtt", "command", line=line, value=value))
        c.publish(f"{prefix}/lines/{line}/state", "ON" if value else "OFF", qos=m.get("qos", 0), retain=True)

    client.on_connect = on_connect
    client.on_message = on_message
    client.connect(m["broker"], m.get("port", 1883), keepalive=m.get("keepalive_s", 30))
    client.loop_start()

    files = {f["path"]: f["values"] for f in board.get("sim", {}).get("files", [])}
    pulses = {s["line"]: s["frequency_hz"] for s in board.get("sim", {}).get("stimuli", []) if s["kind"] == "pulses"}
    position, fan_on, tick = 0, None, 0
    while True:
        time.sleep(1)
        tick += 1
        for name, ticks in press_ticks.items():
            if tick in ticks:
                switches[name] = not switches[name]
                r = record(name, "on" if switches[name] else "off")
                out(r)
                client.publish(f"{prefix}/{name}/state", json.dumps(r), qos=m.get("qos", 0), retain=True)
        for t in tasks:
            name, kind = t["name"], t["kind"]
            r = None
            if kind == "sampler":
                vals = files.get(t["path"], [0])
                value = vals[tick % len(vals)] * t.get("scale", 1)
                r = record(name, "reading", value=round(value, 3), unit=t.get("unit", ""))
                for cv in tasks:
                    if cv["kind"] == "curve" and cv["source"] == name and cv["pwm"] in hw:
                        pts = cv["points"]
                        duty = pts[0][1] if value <= pts[0][0] else pts[-1][1]
                        for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
                            if x0 < value <= x1:
                                duty = y0 + (y1 - y0) * (value - x0) / (x1 - x0)
                        cr = record(cv["name"], "duty", value=round(value, 3), duty_percent=round(duty, 1))
                        out(cr)
                        client.publish(f"{prefix}/{cv['name']}/duty", json.dumps(cr), qos=m.get("qos", 0), retain=True)
                        if duty != hw_duties[cv["pwm"]]:
                            hw_duties[cv["pwm"]] = duty
                            period = hw[cv["pwm"]]["period_us"] * 1000
                            pwm_write(cv["pwm"], "duty_cycle", round(period * duty / 100))
                            dr = duty_record(cv["pwm"])
                            out(dr)
                            client.publish(f"{prefix}/{cv['pwm']}/duty", json.dumps(dr), qos=m.get("qos", 0), retain=True)
                for th in tasks:
                    if th["kind"] == "threshold" and th["source"] == name:
                        on = value > th["on_above"] or (fan_on and value >= th["off_below"])
                        if on != fan_on:
                            fan_on = on
                            tr = record(th["name"], "on" if on else "off", value=round(value, 3))
                            out(tr)
                            client.publish(f"{prefix}/{th['name']}/state", json.dumps(tr), qos=m.get("qos", 0))
            elif kind == "pulse_counter":
                rate = pulses.get(t["line"], 0)
                r = record(name, "reading", count=rate, rate_hz=rate, value=round(rate * t.get("scale", 1), 3),
                           unit=t.get("unit", ""))
            elif kind == "sensor" and t["source"]["preset"] == "iio":
                src = t["source"]
                readings = {c: round(iio_read(src["sysfs_root"], src["device"], c), 3) for c in channels(t)}
                if len(readings) == 1:
                    c, v = next(iter(readings.items()))
                    r = record(name, "reading", value=v, unit=IIO[c][1])
                else:
                    r = record(name, "reading", **{IIO[c][0]: v for c, v in readings.items()})
            elif kind == "encoder" and tick % 3 == 0:
                position += 1
                r = record(name, "step", delta=1, position=position)
                client.publish(f"{prefix}/{name}/step", json.dumps(r), qos=m.get("qos", 0))
                out(r)
                continue
            if r is not None:
                out(r)
                client.publish(f"{prefix}/{name}/{r['event']}", json.dumps(r, ensure_ascii=False), qos=m.get("qos", 0))


if __name__ == "__main__":
    main()
