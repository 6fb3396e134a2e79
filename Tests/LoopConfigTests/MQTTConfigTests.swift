// The `mqtt` section: its defaults, the broker as an address or a Unix socket, what it adds to
// the capacity plan and `--check`, the credentials file, and the Home Assistant discovery
// configs it makes (valid JSON, the unit's device class). Bad values are in the bad/ corpus.

import Foundation
import LoopConfig
import LoopCore
import Testing

func mqttConfig(_ mqtt: String) -> String {
  """
  {
    "board": "Greenhouse",
    "gpio": "mock",
    "lines": {
      "button": { "name": "GPIO27", "direction": "input" },
      "wind": { "name": "GPIO22", "direction": "input" },
      "led": { "name": "GPIO17", "direction": "output" },
      "relay": { "name": "GPIO23", "direction": "output" }
    },
    "tasks": [
      { "name": "button", "kind": "button", "line": "button" },
      { "name": "wind", "kind": "pulse_counter", "line": "wind", "window_ms": 1000, "scale": 2.4, "unit": "m/s" },
      { "name": "temp", "kind": "sampler", "path": "/tmp/t", "period_ms": 1000, "unit": "C" },
      { "name": "blink", "kind": "heartbeat", "line": "led" }
    ]\(mqtt.isEmpty ? "" : ",\n  \"mqtt\": " + mqtt)
  }
  """
}

@Suite struct MQTTConfigTests {
  @Test func defaults() throws {
    let config = try valid(mqttConfig(#"{ "broker": "192.168.1.10", "client_id": "greenhouse" }"#))
    let m = try #require(config.mqtt)
    #expect(m.broker == .tcp(host: FixedText<48>("192.168.1.10"), port: 1883))
    #expect(m.topicPrefix == FixedText<64>("sensorloop/greenhouse"))
    #expect(m.qos == 1 && m.keepAliveSeconds == 30 && m.credentialsFile == nil)
    #expect(m.discovery && m.discoveryPrefix == FixedText<32>("homeassistant"))
    #expect(
      m.sendBufferBytes == 16_384 && m.receiveBufferBytes == 2048 && m.inboxBytes == 2048 && m.window == 16)
    #expect(try valid(mqttConfig("")).mqtt == nil)
  }

  @Test func socketAndIPv6() throws {
    let unix = try valid(mqttConfig(#"{ "socket": "/run/mosquitto/mqtt.sock", "client_id": "g1" }"#))
    #expect(unix.mqtt?.broker == .unix(Path("/run/mosquitto/mqtt.sock")))
    let v6 = try valid(mqttConfig(#"{ "broker": "::1", "port": 8883, "client_id": "g1", "qos": 0 }"#))
    #expect(v6.mqtt?.broker == .tcp(host: FixedText<48>("::1"), port: 8883))
    #expect(v6.mqtt?.qos == 0)
  }

  @Test func theSectionIsCountedInThePlan() throws {
    let without = CapacityPlan(try valid(mqttConfig("")))
    let with = CapacityPlan(try valid(mqttConfig(#"{ "broker": "10.0.0.1", "client_id": "g1" }"#)))
    #expect(with.slots.used == without.slots.used + 1)
    #expect(with.timers.used == without.timers.used + 1)
    #expect(with.fds.used == without.fds.used + 2)
    var text: [UInt8] = []
    with.render(into: &text)
    #expect(
      String(decoding: text, as: UTF8.self).hasSuffix(
        "mqtt bytes  29696 (send 16384, receive 2048, inbox 2048, window 16 x 512, strings 1024)\n"))
  }

  @Test func credentialsAreReadFromTheirFile() throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("creds-\(UUID().uuidString)")
      .path
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "board\r\ns3cret\n".write(toFile: path, atomically: true, encoding: .utf8)
    let config = try valid(
      mqttConfig(#"{ "broker": "10.0.0.1", "client_id": "g1", "credentials_file": "\#(path)" }"#))
    let credentials = try config.mqtt!.readCredentials()
    #expect(credentials?.username == Array("board".utf8))
    #expect(credentials?.password == Array("s3cret".utf8))
    try "only-one-line".write(toFile: path, atomically: true, encoding: .utf8)
    #expect(throws: ConfigError.self) { try config.mqtt!.readCredentials() }
  }

  @Test func discoveryConfigsAreHomeAssistantJSON() throws {
    let config = try valid(mqttConfig(#"{ "broker": "10.0.0.1", "client_id": "g1" }"#))
    let messages = config.discoveryMessages()
    let byTopic = Dictionary(
      uniqueKeysWithValues: messages.map { (String(decoding: $0.topic, as: UTF8.self), $0.payload) })
    #expect(
      Set(byTopic.keys) == [
        "homeassistant/device_automation/g1/button_press/config",
        "homeassistant/device_automation/g1/button_release/config",
        // The button's long press has a default (`long_press_ms`).
        "homeassistant/device_automation/g1/button_long_press/config",
        "homeassistant/sensor/g1/wind/config",
        "homeassistant/sensor/g1/temp/config",
        // The relay no task drives; the heartbeat's led is not commandable.
        "homeassistant/switch/g1/line_relay/config",
      ])
    func object(_ topic: String) throws -> [String: Any] {
      try #require(JSONSerialization.jsonObject(with: Data(byTopic[topic]!)) as? [String: Any])
    }
    let temp = try object("homeassistant/sensor/g1/temp/config")
    #expect(temp["unit_of_measurement"] as? String == "°C")
    #expect(temp["device_class"] as? String == "temperature")
    #expect(temp["state_topic"] as? String == "sensorloop/g1/temp/reading")
    #expect(temp["value_template"] as? String == "{{ value_json.value }}")
    #expect(temp["unique_id"] as? String == "g1_temp")
    let device = try #require(temp["device"] as? [String: Any])
    #expect(device["name"] as? String == "Greenhouse")
    #expect(device["identifiers"] as? [String] == ["g1"])
    let wind = try object("homeassistant/sensor/g1/wind/config")
    #expect(wind["device_class"] as? String == "wind_speed")
    let press = try object("homeassistant/device_automation/g1/button_press/config")
    #expect(press["automation_type"] as? String == "trigger")
    #expect(press["type"] as? String == "button_short_press")
    #expect(press["topic"] as? String == "sensorloop/g1/button/press")
    let relay = try object("homeassistant/switch/g1/line_relay/config")
    #expect(relay["command_topic"] as? String == "sensorloop/g1/lines/relay/set")
    #expect(relay["state_topic"] as? String == "sensorloop/g1/lines/relay/state")
    #expect(relay["availability_topic"] as? String == "sensorloop/g1/status")
    let off = try valid(mqttConfig(#"{ "broker": "10.0.0.1", "client_id": "g1", "discovery": false }"#))
    #expect(off.mqtt?.discovery == false)
  }

  /// The kinds merged with the rules and the sensor kinds: a `sensor` with several values is one
  /// HA sensor per value (its unit's device class), a `switch` a read-only `binary_sensor`, a
  /// curve's duty a `sensor` in %, a hardware PWM's duty a `number` commands set.
  @Test func discoveryForSensorSwitchCurveAndHardwarePWM() throws {
    let config = try valid(
      """
      {
        "board": "Shed",
        "gpio": "mock",
        "lines": {
          "button": { "name": "GPIO27", "direction": "input" },
          "dim": { "name": "GPIO17", "direction": "output" },
          "relay": { "name": "GPIO23", "direction": "output" }
        },
        "tasks": [
          { "name": "button", "kind": "button", "line": "button" },
          { "name": "air", "kind": "sensor", "source": { "preset": "iio", "device": "bme280",
            "channels": ["in_temp", "in_humidityrelative", "in_pressure"] } },
          { "name": "tank", "kind": "sensor", "source": { "preset": "ds18b20", "id": "28-000005e2fdc3" } },
          { "name": "relay", "kind": "switch", "line": "relay", "source": "button", "mode": "toggle" },
          { "name": "dimmer", "kind": "pwm", "line": "dim", "period_ms": 20, "duty_percent": 25 },
          { "name": "dim_curve", "kind": "curve", "source": "tank", "pwm": "dimmer", "points": [[45, 20], [58, 100]] },
          { "name": "fan", "kind": "pwm_hw", "chip": "pwm-bcm2835", "channel": 0, "period_us": 40, "duty_percent": 30 }
        ],
        "mqtt": { "broker": "10.0.0.1", "client_id": "s1" }
      }
      """)
    let byTopic = Dictionary(
      uniqueKeysWithValues: config.discoveryMessages().map {
        (String(decoding: $0.topic, as: UTF8.self), $0.payload)
      })
    func object(_ topic: String) throws -> [String: Any] {
      let payload = try #require(byTopic[topic], "no \(topic) in \(byTopic.keys.sorted())")
      return try #require(JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
    }
    let temperature = try object("homeassistant/sensor/s1/air_temperature/config")
    #expect(temperature["state_topic"] as? String == "sensorloop/s1/air/reading")
    #expect(temperature["value_template"] as? String == "{{ value_json.temperature }}")
    #expect(temperature["unit_of_measurement"] as? String == "°C")
    #expect(temperature["device_class"] as? String == "temperature")
    #expect(temperature["unique_id"] as? String == "s1_air_temperature")
    let humidity = try object("homeassistant/sensor/s1/air_humidity/config")
    #expect(humidity["value_template"] as? String == "{{ value_json.humidity }}")
    #expect(humidity["unit_of_measurement"] as? String == "%")
    #expect(humidity["device_class"] as? String == "humidity")
    let pressure = try object("homeassistant/sensor/s1/air_pressure/config")
    #expect(pressure["unit_of_measurement"] as? String == "kPa")
    #expect(pressure["device_class"] as? String == "pressure")
    #expect(pressure["state_class"] as? String == "measurement")
    let tank = try object("homeassistant/sensor/s1/tank/config")
    #expect(tank["value_template"] as? String == "{{ value_json.value }}")
    #expect(tank["device_class"] as? String == "temperature")
    let relay = try object("homeassistant/binary_sensor/s1/relay/config")
    #expect(relay["state_topic"] as? String == "sensorloop/s1/relay/state")
    #expect(relay["payload_on"] as? String == "on")
    #expect(relay["command_topic"] == nil)
    // The switch's line is its task's: no command entity for it.
    #expect(byTopic["homeassistant/switch/s1/line_relay/config"] == nil)
    let curve = try object("homeassistant/sensor/s1/dim_curve/config")
    #expect(curve["state_topic"] as? String == "sensorloop/s1/dim_curve/duty")
    #expect(curve["value_template"] as? String == "{{ value_json.duty_percent }}")
    #expect(curve["unit_of_measurement"] as? String == "%")
    // The hardware PWM takes duty commands: a `number` like the software PWM's, its state the
    // task's duty record (JSON), the software PWM's a plain number.
    #expect(byTopic["homeassistant/sensor/s1/fan/config"] == nil)
    let fan = try object("homeassistant/number/s1/fan/config")
    #expect(fan["command_topic"] as? String == "sensorloop/s1/fan/duty/set")
    #expect(fan["state_topic"] as? String == "sensorloop/s1/fan/duty")
    #expect(fan["value_template"] as? String == "{{ value_json.duty_percent }}")
    #expect(fan["min"] as? Int == 0 && fan["max"] as? Int == 100 && fan["step"] as? Int == 1)
    #expect(fan["unit_of_measurement"] as? String == "%")
    let dimmer = try object("homeassistant/number/s1/dimmer/config")
    #expect(dimmer["command_topic"] as? String == "sensorloop/s1/dimmer/duty/set")
    #expect(dimmer["value_template"] == nil)
    // Both subscribe to duty commands, with their configured duties as the initial states.
    #expect(config.pwmTasks.map { $0.0 } == [4, 6])
    #expect(config.pwmTasks.map { $0.1 } == [25, 30])
    #expect(byTopic["homeassistant/number/s1/dimmer/config"] != nil)
  }
}
