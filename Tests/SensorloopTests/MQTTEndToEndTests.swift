// sensorloop with an `mqtt` section, run as a user runs it on the simulated board, against a real
// mosquitto (Debian's `mosquitto` and `mosquitto-clients`, installed by .ci/deps host) started
// per test on a free loopback port and a Unix socket: records arrive at mosquitto_sub with their
// topics, payloads and QoS; the discovery configs and the availability are retained; commands
// sent with mosquitto_pub set an output (a command record, the state topic); faults: no broker
// at startup, the broker killed and restarted (QoS 1 resent with DUP, seen in the broker's log),
// sensorloop killed (the last will), wrong credentials (error records, backoff).
// The broker support is Tests/HostTestSupport, shared with LoopMQTTTests.

import Foundation
import HostTestSupport
import Testing

/// A simulated board with a button (presses at 0.5 s, 1.5 s; a long press at 2.5 s), a pulse
/// counter (10 Hz, a reading a second), a threshold on it, a 0.5 s ticker, a PWM at 25 % and a
/// `relay` output no task drives (commandable), with `mqtt` as given.
func mqttBoard(_ mqtt: String, in directory: URL) throws -> String {
  let text = """
    {
      "board": "MQTT test board",
      "gpio": "mock",
      "lines": {
        "button": { "name": "GPIO27", "direction": "input", "bias": "pull-up", "active_low": true },
        "wind": { "name": "GPIO22", "direction": "input", "bias": "pull-up", "active_low": true },
        "fan": { "name": "GPIO18", "direction": "output" },
        "relay": { "name": "GPIO23", "direction": "output" },
        "dimmer": { "name": "GPIO12", "direction": "output" }
      },
      "tasks": [
        { "name": "button", "kind": "button", "line": "button", "debounce_ms": 20, "long_press_ms": 1000 },
        { "name": "wind", "kind": "pulse_counter", "line": "wind", "edge": "rising", "window_ms": 1000,
          "scale": 2.4, "unit": "km/h" },
        { "name": "gust", "kind": "threshold", "source": "wind", "line": "fan", "on_above": 20, "off_below": 10 },
        { "name": "tick", "kind": "ticker", "period_ms": 500 },
        { "name": "dimmer", "kind": "pwm", "line": "dimmer", "period_ms": 100, "duty_percent": 25 }
      ],
      "mqtt": \(mqtt),
      "sim": {
        "stimuli": [
          { "kind": "press", "line": "button", "at_ms": 500, "hold_ms": 150, "count": 2, "every_ms": 1000 },
          { "kind": "press", "line": "button", "at_ms": 2500, "hold_ms": 1200 },
          { "kind": "pulses", "line": "wind", "at_ms": 0, "frequency_hz": 10, "duty_percent": 50 }
        ]
      }
    }
    """
  let path = directory.appendingPathComponent("board-\(UUID().uuidString).json").path
  try text.write(toFile: path, atomically: true, encoding: .utf8)
  return path
}

/// The JSON object of a `topic|payload|retain|qos` line's payload.
func payloadObject(_ line: String) -> [String: Any]? {
  let parts = line.split(separator: "|", maxSplits: 1)
  guard parts.count == 2, let end = parts[1].range(of: "|", options: .backwards) else { return nil }
  var payload = String(parts[1][..<end.lowerBound])
  if let second = payload.range(of: "|", options: .backwards) {
    payload = String(payload[..<second.lowerBound])
  }
  return try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]
}

@Suite(.serialized) struct MQTTEndToEndTests {
  @Test func recordsDiscoveryAndAvailabilityArriveAtMosquitto() throws {
    let broker = try MQTTBroker()
    try broker.start()
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e1", "topic_prefix": "test/e2e1" }"#,
      in: broker.directory)
    let sub = try broker.subscriber("watch", topic: "test/e2e1/#", seconds: 8)
    let run = try sensorloop(["--config", board, "--duration", "4"])
    #expect(run.status == 0, "\(run.stderr)")
    let lines = sub.lines()
    // The JSON-lines output is unchanged beside MQTT: the same records on stdout.
    #expect(run.events("button", "press").count == 3)
    #expect(run.events("mqtt", "connected").count == 1, "\(run.stdout)")
    // Every task record was published, as its JSON line, on <prefix>/<task>/<event>, QoS 1.
    let presses = lines.filter { $0.hasPrefix("test/e2e1/button/press|") }
    #expect(presses.count == 3, "\(lines)")
    #expect(presses.allSatisfy { $0.hasSuffix("|0|1") }, "\(presses)")
    #expect(presses.compactMap(payloadObject).allSatisfy { $0["task"] as? String == "button" })
    #expect(lines.filter { $0.hasPrefix("test/e2e1/button/long_press|") }.count == 1)
    let wind = lines.filter { $0.hasPrefix("test/e2e1/wind/reading|") }.compactMap(payloadObject)
    #expect((3...4).contains(wind.count), "\(lines)")
    #expect(wind.allSatisfy { $0["value"] as? Double == 24 && $0["unit"] as? String == "km/h" }, "\(wind)")
    // The threshold's on and off share one state topic.
    #expect(
      lines.contains { $0.hasPrefix("test/e2e1/gust/state|") && $0.contains("\"event\":\"on\"") }, "\(lines)")
    let ticks = lines.filter { $0.hasPrefix("test/e2e1/tick/tick|") }
    #expect(ticks.count == run.events("tick", "tick").count)
    // Availability: online while it ran, offline (retained) after the clean stop.
    #expect(lines.contains("test/e2e1/status|online|0|1") || lines.contains("test/e2e1/status|online|0|0"))
    let status = try broker.retained("test/e2e1/status")
    #expect(status == "test/e2e1/status|offline|1|0", "\(String(describing: status))")
    // The latest reading and the state are retained; events are not.
    #expect(try broker.retained("test/e2e1/wind/reading") != nil)
    #expect(try broker.retained("test/e2e1/button/press") == nil)
    // Discovery: retained configs with the device block and the availability topic.
    let configs = try broker.allRetained("homeassistant/#")
    let topics = Set(configs.map { String($0.split(separator: "|")[0]) })
    #expect(
      topics == [
        "homeassistant/device_automation/e2e1/button_press/config",
        "homeassistant/device_automation/e2e1/button_release/config",
        "homeassistant/device_automation/e2e1/button_long_press/config",
        "homeassistant/sensor/e2e1/wind/config",
        "homeassistant/binary_sensor/e2e1/gust/config",
        "homeassistant/switch/e2e1/line_relay/config",
        "homeassistant/number/e2e1/dimmer/config",
      ], "\(configs)")
    let sensor = configs.first { $0.hasPrefix("homeassistant/sensor/e2e1/wind/config|") }.flatMap(
      payloadObject)
    #expect(sensor?["state_topic"] as? String == "test/e2e1/wind/reading")
    #expect(sensor?["unit_of_measurement"] as? String == "km/h")
    #expect(sensor?["device_class"] as? String == "wind_speed")
    #expect(sensor?["state_class"] as? String == "measurement")
    #expect(sensor?["availability_topic"] as? String == "test/e2e1/status")
    #expect((sensor?["device"] as? [String: Any])?["identifiers"] as? [String] == ["e2e1"])
    #expect(run.stderr.contains("mqtt: "), "\(run.stderr)")
    #expect(run.stderr.contains(" 0 dropped"), "\(run.stderr)")
  }

  @Test func commandsSetTheOutputAndTheStateTopicConfirms() throws {
    let broker = try MQTTBroker()
    try broker.start()
    // Over the Unix socket this time, QoS 0.
    let board = try mqttBoard(
      #"{ "socket": "\#(broker.socketPath)", "client_id": "e2e2", "qos": 0, "discovery": false }"#,
      in: broker.directory)
    let sub = try broker.subscriber("watch", topic: "sensorloop/e2e2/lines/#", seconds: 6)
    let run = try sensorloop(["--config", board, "--duration", "3"]) { _ in
      // Once it has subscribed: on, a bad payload, a line that is not commandable, toggle; a
      // duty, and one out of range.
      try? broker.waitForLog("Sending SUBACK to e2e2")
      try? broker.publish("sensorloop/e2e2/lines/relay/set", "ON")
      try? broker.publish("sensorloop/e2e2/lines/relay/set", "bogus")
      try? broker.publish("sensorloop/e2e2/lines/fan/set", "ON")
      try? broker.publish("sensorloop/e2e2/lines/relay/set", "toggle")
      try? broker.publish("sensorloop/e2e2/dimmer/duty/set", "60")
      try? broker.publish("sensorloop/e2e2/dimmer/duty/set", "150")
    }
    #expect(run.status == 0, "\(run.stderr)")
    let commands = run.events("mqtt", "command")
    let lineCommands = commands.filter { $0["line"] != nil }
    #expect(lineCommands.map { $0["value"] as? Bool } == [true, false], "\(run.stdout)")
    #expect(lineCommands.allSatisfy { $0["line"] as? String == "relay" })
    #expect(commands.filter { $0["pwm"] as? String == "dimmer" }.map { $0["duty_percent"] as? Int } == [60])
    let errors = run.events("mqtt", "error")
    #expect(
      errors.compactMap { $0["error"] as? String } == [
        "bad command payload", "unknown command topic", "bad duty payload",
      ], "\(errors)")
    #expect(errors.first?["payload"] as? String == "bogus")
    let states = sub.lines().filter { $0.hasPrefix("sensorloop/e2e2/lines/relay/state|") }
    // The initial state after the connect, then each command's.
    #expect(states.map { $0.split(separator: "|")[1] } == ["OFF", "ON", "OFF"], "\(states)")
    #expect(run.stderr.contains("3 commands, 3 refused"), "\(run.stderr)")
    // The duty's state topic: the configured 25 after the connect, then 60.
    #expect(try broker.retained("sensorloop/e2e2/dimmer/duty") == "sensorloop/e2e2/dimmer/duty|60|1|0")
  }

  /// A hardware PWM (`pwm_hw` on a fake /sys/class/pwm) takes duty commands as a software
  /// PWM does: a `number` in Home Assistant, a duty sent with mosquitto_pub written to the
  /// channel's duty_cycle, its task's retained `duty` record confirming; bad payloads change
  /// nothing.
  @Test func aDutyCommandDrivesAHardwarePWMChannel() throws {
    let broker = try MQTTBroker()
    try broker.start()
    let tree = FakeSysfs()
    tree.board()
    let board = tree.root + "/board.json"
    try """
    {
      "board": "MQTT hardware PWM board", "gpio": "mock",
      "tasks": [
        { "name": "fan_pwm", "kind": "pwm_hw", "chip": "pwm-bcm2835", "channel": 0, "period_us": 40,
          "duty_percent": 25, \(tree.rootKey) },
        { "name": "tick", "kind": "ticker", "period_ms": 500 }
      ],
      "mqtt": { "broker": "127.0.0.1", "port": \(broker.port), "client_id": "e2e10", "topic_prefix": "test/e2e10" }
    }
    """.write(toFile: board, atomically: true, encoding: .utf8)
    let dutyCycle = "class/pwm/pwmchip0/pwm0/duty_cycle"
    let sub = try broker.subscriber("watch", topic: "test/e2e10/fan_pwm/duty", seconds: 6)
    var during: [String?] = []
    let run = try sensorloop(["--config", board, "--duration", "3"]) { _ in
      try? broker.waitForLog("Sending SUBACK to e2e10")
      during.append(tree.read(dutyCycle))
      try? broker.publish("test/e2e10/fan_pwm/duty/set", "60")
      Thread.sleep(forTimeInterval: 0.5)
      during.append(tree.read(dutyCycle))
      // Not a whole number 0 to 100: refused, the channel untouched.
      for bad in ["150", "fast", "-5", "12.5"] { try? broker.publish("test/e2e10/fan_pwm/duty/set", bad) }
      Thread.sleep(forTimeInterval: 0.5)
      during.append(tree.read(dutyCycle))
    }
    #expect(run.status == 0, "\(run.stderr)")
    // 25 % of 40 µs at start, 60 % after the command, still 60 % after the bad ones.
    #expect(during == ["10000", "24000", "24000"], "\(run.stdout)")
    #expect(tree.read(dutyCycle) == "24000")
    let commands = run.events("mqtt", "command")
    #expect(commands.map { $0["pwm"] as? String } == ["fan_pwm"], "\(run.stdout)")
    #expect(commands.first?["duty_percent"] as? Int == 60)
    let errors = run.events("mqtt", "error").compactMap { $0["error"] as? String }
    #expect(errors == Array(repeating: "bad duty payload", count: 4), "\(run.stdout)")
    // The task reported the duty the chip took: 25 at start, then 60.
    #expect(run.events("fan_pwm", "duty").map { $0["duty_percent"] as? Double } == [25, 60])
    #expect(run.events("fan_pwm", "error").isEmpty)
    // The state topic: the duty in force after the connect (25: the start's record, queued at
    // QoS 1 until the connect, and the state published after it), then the command's (60),
    // retained; nothing for the bad payloads.
    let lines = sub.lines()
    let states = lines.compactMap(payloadObject).map { $0["duty_percent"] as? Double }
    #expect(states.last == 60 && states.dropLast().allSatisfy { $0 == 25 }, "\(lines)")
    #expect((2...3).contains(states.count), "\(lines)")
    let retained = try broker.retained("test/e2e10/fan_pwm/duty")
    #expect(retained?.hasSuffix("|1|1") == true, "\(String(describing: retained))")
    #expect(retained.flatMap(payloadObject)?["duty_percent"] as? Double == 60)
    // Home Assistant: a number commanding it, reading the record's duty_percent.
    let number = try broker.allRetained("homeassistant/number/e2e10/fan_pwm/config").first.flatMap(
      payloadObject)
    #expect(number?["command_topic"] as? String == "test/e2e10/fan_pwm/duty/set")
    #expect(number?["state_topic"] as? String == "test/e2e10/fan_pwm/duty")
    #expect(number?["value_template"] as? String == "{{ value_json.duty_percent }}")
    #expect(try broker.allRetained("homeassistant/sensor/e2e10/#").isEmpty)
    #expect(run.stderr.contains("1 commands, 4 refused"), "\(run.stderr)")
  }

  /// The rules' kinds over MQTT: a `switch` toggled by the button is a read-only
  /// `binary_sensor` whose `on`/`off` records are retained on `<task>/state`; a curve's duty
  /// is a `sensor` in % read from its `duty` records, retained.
  @Test func aSwitchAndACurveArePublishedWithTheirEntities() throws {
    let broker = try MQTTBroker()
    try broker.start()
    let temperature = broker.directory.appendingPathComponent("temp").path
    let board = broker.directory.appendingPathComponent("rules.json").path
    try """
    {
      "board": "MQTT rules board",
      "gpio": "mock",
      "lines": {
        "button": { "name": "GPIO27", "direction": "input", "bias": "pull-up", "active_low": true },
        "relay": { "name": "GPIO23", "direction": "output" },
        "fan_pwm": { "name": "GPIO13", "direction": "output" }
      },
      "tasks": [
        { "name": "button", "kind": "button", "line": "button", "debounce_ms": 20 },
        { "name": "relay", "kind": "switch", "line": "relay", "source": "button", "mode": "toggle" },
        { "name": "soc_temp", "kind": "sampler", "path": "\(temperature)", "period_ms": 200, "scale": 0.001, "unit": "°C" },
        { "name": "fan_speed", "kind": "pwm", "line": "fan_pwm", "period_ms": 40, "duty_percent": 100 },
        { "name": "fan_curve", "kind": "curve", "source": "soc_temp", "pwm": "fan_speed",
          "points": [[45, 20], [50, 40], [58, 100]] }
      ],
      "mqtt": { "broker": "127.0.0.1", "port": \(broker.port), "client_id": "e2e9", "topic_prefix": "test/e2e9" },
      "sim": {
        "stimuli": [
          { "kind": "press", "line": "button", "at_ms": 500, "hold_ms": 150, "count": 3, "every_ms": 600 }
        ],
        "files": [
          { "path": "\(temperature)", "at_ms": 0, "every_ms": 400, "repeat": true,
            "values": [45000, 48000, 52000, 57000] }
        ]
      }
    }
    """.write(toFile: board, atomically: true, encoding: .utf8)
    let run = try sensorloop(["--config", board, "--duration", "3"])
    #expect(run.status == 0, "\(run.stderr)")
    let configs = try broker.allRetained("homeassistant/#")
    func config(_ topic: String) -> [String: Any]? {
      configs.first { $0.hasPrefix(topic + "|") }.flatMap(payloadObject)
    }
    let relay = config("homeassistant/binary_sensor/e2e9/relay/config")
    #expect(relay?["state_topic"] as? String == "test/e2e9/relay/state", "\(configs)")
    #expect(relay?["command_topic"] == nil)
    let curve = config("homeassistant/sensor/e2e9/fan_curve/config")
    #expect(curve?["state_topic"] as? String == "test/e2e9/fan_curve/duty", "\(configs)")
    #expect(curve?["value_template"] as? String == "{{ value_json.duty_percent }}")
    #expect(curve?["unit_of_measurement"] as? String == "%")
    // The last switch record and the last curve duty are the retained states.
    let switched = run.events("relay").filter { ["on", "off"].contains($0["event"] as? String) }
    #expect(switched.count >= 3, "\(run.stdout)")
    let state = try broker.retained("test/e2e9/relay/state").flatMap(payloadObject)
    #expect(state?["event"] as? String == switched.last?["event"] as? String, "\(String(describing: state))")
    #expect(state?["t_ns"] as? Int == switched.last?["t_ns"] as? Int)
    let duties = run.events("fan_curve", "duty")
    #expect(duties.count >= 2, "\(run.stdout)")
    let duty = try broker.retained("test/e2e9/fan_curve/duty").flatMap(payloadObject)
    #expect(
      duty?["duty_percent"] as? Double == duties.last?["duty_percent"] as? Double,
      "\(String(describing: duty))")
    #expect(duty?["t_ns"] as? Int == duties.last?["t_ns"] as? Int)
  }

  @Test func noBrokerAtStartupKeepsRetryingAndTheLoopRuns() throws {
    let broker = try MQTTBroker()  // Not started for the first 2 s.
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e3" }"#, in: broker.directory)
    let run = try sensorloop(["--config", board, "--duration", "4"]) { _ in
      Thread.sleep(forTimeInterval: 2)
      try? broker.start()
    }
    #expect(run.status == 0, "\(run.stderr)")
    // The loop ran as without MQTT: every tick on time, every press.
    #expect((7...8).contains(run.events("tick", "tick").count), "\(run.stdout)")
    #expect(run.events("button", "press").count == 3)
    let errors = run.events("mqtt", "error")
    #expect(errors.count >= 2 && errors.count <= 6, "\(errors)")
    #expect(
      errors.allSatisfy {
        $0["error"] as? String == "connect failed" && $0["reason"] as? String == "ECONNREFUSED"
      })
    #expect(run.events("mqtt", "connected").count == 1, "\(run.stdout)")
    #expect(run.stderr.contains("connect failures"), "\(run.stderr)")
  }

  @Test func brokerKilledAndRestartedGetsTheQoS1MessagesAgain() throws {
    let broker = try MQTTBroker()
    try broker.start()
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e4", "keepalive_s": 60 }"#,
      in: broker.directory)
    var restartedLog = 0
    let run = try sensorloop(["--config", board, "--duration", "6"]) { _ in
      try? broker.waitForLog("Sending CONNACK to e2e4")
      Thread.sleep(forTimeInterval: 0.5)
      // The broker stops reading: the records sent meanwhile wait for their PUBACK. Then it is
      // killed (no will, no clean close) and is down for a second: the records made then wait
      // in the window, never sent.
      broker.pause()
      Thread.sleep(forTimeInterval: 1.2)
      broker.kill()
      Thread.sleep(forTimeInterval: 1)
      restartedLog = broker.log().count
      try? broker.start()
    }
    #expect(run.status == 0, "\(run.stderr)")
    let lost = run.events("mqtt", "error")
    #expect(lost.first?["error"] as? String == "connection lost", "\(lost)")
    #expect(run.events("mqtt", "connected").count == 2, "\(run.stdout)")
    let after = String(broker.log().dropFirst(restartedLog))
    // The unacknowledged ones came again with DUP set (mosquitto logs `d1, q1`), the never-sent
    // ones without; each tick of the whole run reached a broker.
    #expect(after.contains("Received PUBLISH from e2e4 (d1, q1"), "\(after.suffix(3000))")
    #expect(after.contains("Received PUBLISH from e2e4 (d0, q1"), "\(after.suffix(3000))")
    let ticks = run.events("tick", "tick").count
    let received = broker.log().components(separatedBy: "'sensorloop/e2e4/tick/tick'").count - 1
    // (The last tick may still be on its way at the stop.)
    #expect(received >= ticks - 1, "\(received) of \(ticks) ticks reached a broker")
    // Availability: online again on the new broker (which lost the retained one).
    #expect(
      after.contains("Received PUBLISH from e2e4 (d0, q0, r1, m0, 'sensorloop/e2e4/status', ... (6 bytes))"),
      "\(after.suffix(3000))")
    #expect(run.stderr.contains(" resent;"), "\(run.stderr)")
  }

  @Test func aBrokerThatStopsReadingCostsCountedDropsNotTicks() throws {
    let broker = try MQTTBroker()
    try broker.start()
    // A window of 2: the broker's silence fills it with the first records after the pause.
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e9", "inflight_window": 2, "keepalive_s": 60 }"#,
      in: broker.directory)
    let run = try sensorloop(["--config", board, "--duration", "4"]) { _ in
      try? broker.waitForLog("Sending CONNACK to e2e9")
      broker.pause()
      Thread.sleep(forTimeInterval: 2)
      broker.resume()
    }
    #expect(run.status == 0, "\(run.stderr)")
    // The loop went on: every tick on time, on stdout.
    #expect((7...8).contains(run.events("tick", "tick").count), "\(run.stdout)")
    // Records that found the window full were dropped whole and counted.
    let line = run.stderr.split(separator: "\n").first { $0.hasPrefix("mqtt: ") }.map(String.init) ?? ""
    let full = line.components(separatedBy: " window full").first?.split(separator: " ").last.flatMap {
      Int($0)
    }
    #expect((full ?? 0) > 0, "\(line)")
    #expect(!line.contains(" 0 dropped"), "\(line)")
  }

  @Test func aKilledSensorloopLeavesTheLastWill() throws {
    let broker = try MQTTBroker()
    try broker.start()
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e5" }"#, in: broker.directory)
    let run = try sensorloop(["--config", board, "--duration", "10"]) { process in
      try? broker.waitForLog("Sending CONNACK to e2e5")
      Thread.sleep(forTimeInterval: 0.5)
      #expect((try? broker.retained("sensorloop/e2e5/status")) == "sensorloop/e2e5/status|online|1|0")
      kill(process.processIdentifier, SIGKILL)
    }
    #expect(run.status != 0)
    // The broker publishes the will (QoS 1, retained) once it sees the socket close.
    var status: String? = nil
    for _ in 0..<30 {
      status = try broker.retained("sensorloop/e2e5/status")
      if status?.contains("offline") == true { break }
    }
    #expect(status == "sensorloop/e2e5/status|offline|1|1")
  }

  @Test func wrongCredentialsAreErrorRecordsWithBackoff() throws {
    let broker = try MQTTBroker(users: [("board", "right")])
    try broker.start()
    let credentials = broker.directory.appendingPathComponent("credentials").path
    try "board\nwrong\n".write(toFile: credentials, atomically: true, encoding: .utf8)
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e6", "credentials_file": "\#(credentials)" }"#,
      in: broker.directory)
    let run = try sensorloop(["--config", board, "--duration", "3"])
    #expect(run.status == 0, "\(run.stderr)")
    let errors = run.events("mqtt", "error")
    // Refused each time, with the reason; the backoff (0.5 s, 1 s, 2 s ...) keeps it to a few.
    #expect((2...4).contains(errors.count), "\(errors)")
    #expect(errors.allSatisfy { $0["error"] as? String == "connection refused" }, "\(errors)")
    #expect(errors.allSatisfy { [4, 5].contains($0["code"] as? Int ?? 0) }, "\(errors)")
    #expect(!run.stdout.contains("wrong") && !run.stderr.contains("wrong"))
    #expect((5...6).contains(run.events("tick", "tick").count))
    // The right password connects.
    try "board\nright\n".write(toFile: credentials, atomically: true, encoding: .utf8)
    let good = try sensorloop(["--config", board, "--duration", "1"])
    #expect(good.events("mqtt", "connected").count == 1, "\(good.stdout)")
  }

  @Test func heapAllocationsAfterStartupAreZeroWithMQTT() throws {
    // The release build with the repo's malloc counter preloaded, as EndToEndTests does: records
    // published at QoS 1 and 0, discovery, commands (good and bad), and a reconnect.
    let release = try releaseSensorloop()
    let library = FileManager.default.temporaryDirectory.appendingPathComponent(
      "liballoccounter-mqtt-\(getpid()).so")
    try buildAllocCounter(at: library)
    defer { try? FileManager.default.removeItem(at: library) }
    let broker = try MQTTBroker()
    try broker.start()
    let board = try mqttBoard(
      #"{ "broker": "127.0.0.1", "port": \#(broker.port), "client_id": "e2e8" }"#, in: broker.directory)
    let run = try sensorloop(
      ["--config", board, "--duration", "5"], binary: release, environment: ["LD_PRELOAD": library.path]
    ) { _ in
      try? broker.waitForLog("Sending SUBACK to e2e8")
      try? broker.publish("sensorloop/e2e8/lines/relay/set", "ON")
      try? broker.publish("sensorloop/e2e8/lines/relay/set", "nonsense")
      Thread.sleep(forTimeInterval: 0.5)
      broker.kill()
      Thread.sleep(forTimeInterval: 0.5)
      try? broker.start()
    }
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.events("mqtt", "command").count == 1)
    #expect(run.events("mqtt", "connected").count == 2, "\(run.stdout)")
    #expect(run.stderr.contains("heap allocations after startup: 0\n"), "\(run.stderr)")
  }

  @Test func checkShowsTheClientsBuffers() throws {
    let directory = FileManager.default.temporaryDirectory
    let board = try mqttBoard(
      #"{ "broker": "192.168.1.10", "client_id": "e2e7", "send_buffer_bytes": 8192, "inflight_window": 8 }"#,
      in: directory)
    defer { try? FileManager.default.removeItem(atPath: board) }
    let check = try sensorloop(["--config", board, "--check"])
    #expect(check.status == 0, "\(check.stderr)")
    #expect(
      check.stdout.contains(
        "mqtt bytes  17408 (send 8192, receive 2048, inbox 2048, window 8 x 512, strings 1024)\n"),
      "\(check.stdout)")
  }
}
