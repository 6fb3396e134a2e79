// The sensor and pwm_hw kinds as board.json gives them: every key and default, the filter
// chains per value, and the messages of bad values (path, line:column, did-you-mean). The
// corpus in bad/ holds more (sensor-*.json, pwm-hw-*.json).

import Foundation
import LoopCore
import LoopGPIO
import LoopTasks
import Testing

@testable import LoopConfig

@Suite struct SensorKindTests {
  func sensor(_ json: String) throws -> SensorConfig {
    let config = try valid(mockConfig(tasks: json))
    guard case .sensor(let sensor) = config.tasks[0].kind else { throw TestFailure("not a sensor") }
    return sensor
  }

  @Test func ds18b20WithDefaults() throws {
    let s = try sensor(#"{ "name": "tank", "kind": "sensor", "source": { "preset": "ds18b20" } }"#)
    #expect(s.preset == .ds18b20)
    #expect(s.device.isEmpty)  // the only sensor on the bus
    #expect(s.channels.isEmpty)
    #expect(s.keys.elements.map(\.string) == ["temperature"])
    #expect(s.period == Duration.seconds(1))
    #expect(s.filters.count == 1)
    #expect(s.filters[0].isEmpty)
    #expect(s.sysfsRoot.string == "/sys")
    let byID = try sensor(
      #"{ "name": "tank", "kind": "sensor", "source": { "preset": "ds18b20", "id": "28-0000075c293f" } }"#)
    #expect(byID.device.string == "28-0000075c293f")
  }

  @Test func iioWithAChainPerValue() throws {
    let s = try sensor(
      #"""
      { "name": "air", "kind": "sensor", "period_ms": 10000,
        "source": { "preset": "iio", "device": "bme280", "sysfs_root": "/tmp/fake",
                    "channels": ["in_temp", "in_humidityrelative", "in_pressure"] },
        "filters": { "humidity": [{ "kind": "delta", "minimum": 1 }, { "kind": "heartbeat", "interval_ms": 60000 }],
                     "pressure": [{ "kind": "exponential", "alpha": 0.25 }] } }
      """#)
    #expect(s.preset == .iio)
    #expect(s.device.string == "bme280")
    #expect(s.channels.elements.map(\.string) == ["in_temp", "in_humidityrelative", "in_pressure"])
    #expect(s.keys.elements.map(\.string) == ["temperature", "humidity", "pressure"])
    #expect(s.period == Duration.seconds(10))
    #expect(s.sysfsRoot.string == "/tmp/fake")
    #expect(s.filters[0].isEmpty)
    let humidity: [FilterSpec] = [.delta(minimum: 1), .heartbeat(interval: Duration.seconds(60))]
    #expect(s.filters[1].elements == humidity)
    let pressure: [FilterSpec] = [.exponential(alpha: 0.25)]
    #expect(s.filters[2].elements == pressure)
  }

  @Test func everyFilterKindInOneChainForEveryValue() throws {
    let s = try sensor(
      #"""
      { "name": "adc", "kind": "sensor",
        "source": { "preset": "iio", "device": "ads1015", "channels": ["in_voltage0", "in_voltage1"] },
        "filters": [{ "kind": "calibrate", "points": [[0.5, 0], [3.1, 100]] }, { "kind": "median", "window": 5 },
                    { "kind": "average", "window": 16 }, { "kind": "clamp", "low": 0 },
                    { "kind": "throttle", "interval_ms": 5000 }, { "kind": "delta", "minimum": 0.5 }] }
      """#)
    #expect(s.keys.elements.map(\.string) == ["voltage0", "voltage1"])
    let chain: [FilterSpec] = [
      .calibrate(measured1: 0.5, actual1: 0, measured2: 3.1, actual2: 100), .median(window: 5),
      .average(window: 16), .clamp(low: 0, high: 1e9), .throttle(interval: Duration.seconds(5)),
      .delta(minimum: 0.5),
    ]
    #expect(s.filters[0].elements == chain)
    #expect(s.filters[1].elements == chain)
  }

  @Test func hwmonInputAsOneName() throws {
    let s = try sensor(
      #"""
      { "name": "soc", "kind": "sensor", "period_ms": 2000,
        "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": "temp1_input" },
        "filters": [{ "kind": "clamp", "low": -40, "high": 125 }] }
      """#)
    #expect(s.preset == .hwmon)
    #expect(s.device.string == "cpu_thermal")
    #expect(s.channels.elements.map(\.string) == ["temp1_input"])
    #expect(s.keys.elements.map(\.string) == ["temp1"])
    let clamp: [FilterSpec] = [.clamp(low: -40, high: 125)]
    #expect(s.filters[0].elements == clamp)
  }

  @Test func aThresholdWatchesASensor() throws {
    let config = try valid(
      mockConfig(
        lines: #""fan": { "name": "GPIO18", "direction": "output" }"#,
        tasks: #"""
          { "name": "soc", "kind": "sensor", "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": "temp1_input" } },
          { "name": "fan", "kind": "threshold", "source": "soc", "line": "fan", "on_above": 65, "off_below": 55 }
          """#))
    guard case .threshold(let threshold) = config.tasks[1].kind else { throw TestFailure("not a threshold") }
    #expect(threshold.source == 0)
    // A timer and the worker's file reads, like a sampler.
    let plan = CapacityPlan(config)
    #expect(plan.timers.used == 1 + ConfigLimits.systemTimers)
  }

  @Test func pwmHardware() throws {
    let config = try valid(
      mockConfig(
        tasks: #"""
          { "name": "fan_pwm", "kind": "pwm_hw", "chip": "pwm-bcm2835", "channel": 1, "period_us": 40,
            "duty_percent": 37.5, "polarity": "inversed", "sysfs_root": "/tmp/fake" },
          { "name": "servo", "kind": "pwm_hw", "chip": 2, "period_us": 20000 }
          """#))
    guard case .pwmHardware(let fan) = config.tasks[0].kind,
      case .pwmHardware(let servo) = config.tasks[1].kind
    else { throw TestFailure("not pwm_hw") }
    #expect(fan.chip == .driver(ShortPWMName("pwm-bcm2835")))
    #expect(fan.channel == 1)
    #expect(fan.period == Duration.microseconds(40))
    #expect(fan.duty == Duration(nanoseconds: 15_000))
    #expect(fan.polarity == .inversed)
    #expect(fan.sysfsRoot.string == "/tmp/fake")
    #expect(servo.chip == .number(2))
    #expect(servo.channel == 0)
    #expect(servo.duty == Duration.zero)
    #expect(servo.polarity == .normal)
    #expect(servo.sysfsRoot.string == "/sys")
    let only = try valid(mockConfig(tasks: #"{ "name": "p", "kind": "pwm_hw", "period_us": 1000 }"#))
    guard case .pwmHardware(let p) = only.tasks[0].kind else { throw TestFailure("not pwm_hw") }
    #expect(p.chip == .only)
  }

  /// A curve and a threshold may set a pwm_hw task's duty, as a software pwm's; a task that
  /// takes no duty is still refused, the message naming both kinds that do.
  @Test func rulesSetAPWMHardwareDuty() throws {
    let config = try valid(
      mockConfig(
        tasks: #"""
          { "name": "soc", "kind": "sensor", "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": "temp1_input" } },
          { "name": "fan_curve", "kind": "curve", "source": "soc", "pwm": "fan", "points": [[40, 0], [70, 100]] },
          { "name": "fan", "kind": "pwm_hw", "period_us": 40 },
          { "name": "alarm", "kind": "threshold", "source": "soc", "pwm": "buzzer", "on_above": 80, "duty_on": 50 },
          { "name": "buzzer", "kind": "pwm_hw", "channel": 1, "period_us": 500 }
          """#))
    guard case .curve(let curve) = config.tasks[1].kind, case .threshold(let alarm) = config.tasks[3].kind
    else { throw TestFailure("not a curve and a threshold") }
    #expect(curve.pwm == 2)
    #expect(alarm.pwm == 4 && alarm.line == nil)
    #expect(
      message(
        mockConfig(
          tasks: #"""
            { "name": "soc", "kind": "sensor", "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": "temp1_input" } },
            { "name": "fan_curve", "kind": "curve", "source": "soc", "pwm": "soc", "points": [[40, 0], [70, 100]] }
            """#))
        == #"board.json:6:65: tasks[1].pwm: task "soc" is a sensor task; a duty is set on a pwm or pwm_hw task"#
    )
    // One rule per pwm_hw task, as per pwm task.
    #expect(
      message(
        mockConfig(
          tasks: #"""
            { "name": "soc", "kind": "sensor", "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": "temp1_input" } },
            { "name": "a", "kind": "curve", "source": "soc", "pwm": "fan", "points": [[40, 0], [70, 100]] },
            { "name": "b", "kind": "threshold", "source": "soc", "pwm": "fan", "on_above": 80 },
            { "name": "fan", "kind": "pwm_hw", "period_us": 40 }
            """#)
      ).contains(#"tasks[2].pwm: task "fan" already has its duty set by task "a" (tasks[1])"#))
  }

  /// Each message: file:line:column, the JSON path, what was expected (and a likely fix).
  static let badCases: [(task: String, expected: String)] = [
    (
      #"{ "name": "s", "kind": "sensor" }"#,
      #"board.json:5:13: tasks[0]: missing required key "source" (a source object such as {"preset": "ds18b20"})"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "ds18b20", "id": "28-xyz" } }"#,
      #"board.json:5:85: tasks[0].source.id: expected a 1-Wire temperature sensor's id: its family (10, 22, 28, 3b or 42), '-' and 12 hex digits, as in /sys/bus/w1/devices ("28-0000075c293f"), found "28-xyz""#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "ds18b20", "device": "x" } }"#,
      #"board.json:5:79: tasks[0].source.device: unknown key; a ds18b20 source has the keys "preset", "id", "sysfs_root" and "note""#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "iio", "device": "bme280", "chanels": ["in_temp"] } }"#,
      #"board.json:5:95: tasks[0].source.chanels: unknown key; did you mean "channels"?"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "iio", "device": "bme280", "channels": [] } }"#,
      #"board.json:5:107: tasks[0].source.channels: expected an IIO input channel or an array of 1 to 4 ("in_voltage0", ["in_temp", "in_pressure"]), found an array"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "iio", "device": "a", "channels": ["in_temp", "in_temp"] } }"#,
      #"board.json:5:114: tasks[0].source.channels[1]: the same value is listed twice"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "imu" } }"#,
      #"board.json:5:68: tasks[0].source.preset: expected one of "ds18b20", "iio" or "hwmon", found "imu""#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "ds18b20" }, "filters": [{ "kind": "medain", "window": 3 }] }"#,
      #"board.json:5:103: tasks[0].filters[0].kind: expected one of "average", "median", "exponential", "throttle", "delta", "heartbeat", "clamp" or "calibrate", found "medain"; did you mean "median"?"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "ds18b20" }, "filters": [{ "kind": "median", "window": 17 }] }"#,
      #"board.json:5:123: tasks[0].filters[0].window: expected an integer (values) from 1 to 16, found 17"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "iio", "device": "b", "channels": ["in_temp", "in_humidityrelative"] }, "filters": { "humidty": [] } }"#,
      #"board.json:5:153: tasks[0].filters.humidty: no value of this sensor has this key; did you mean "humidity"?"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "ds18b20" }, "filters": [{ "kind": "clamp", "low": 5, "high": 1 }] }"#,
      #"board.json:5:130: tasks[0].filters[0].high: expected a number no lower than low (5), found 1"#
    ),
    (
      #"{ "name": "s", "kind": "sensor", "source": { "preset": "ds18b20" }, "filters": [{ "kind": "calibrate", "points": [[1, 0], [1, 5]] }] }"#,
      #"board.json:5:126: tasks[0].filters[0].points: the two measured values must differ"#
    ),
    (
      #"{ "name": "p", "kind": "pwm_hw", "period_us": 40, "duty_percent": 101 }"#,
      #"board.json:5:79: tasks[0].duty_percent: expected a number from 0 to 100, found 101"#
    ),
    (
      #"{ "name": "p", "kind": "pwm_hw", "period_us": 40, "polarity": "inverted" }"#,
      #"board.json:5:75: tasks[0].polarity: expected "normal" or "inversed", found "inverted"; did you mean "inversed"?"#
    ),
  ]

  @Test func badValues() {
    for (task, expected) in Self.badCases {
      #expect(message(mockConfig(tasks: task)) == expected)
    }
  }

  @Test func aChannelDrivenTwiceAndTooManySensors() {
    #expect(
      message(
        mockConfig(
          tasks: #"""
            { "name": "a", "kind": "pwm_hw", "chip": 0, "channel": 1, "period_us": 40 },
            { "name": "b", "kind": "pwm_hw", "chip": 0, "channel": 1, "period_us": 40 }
            """#))
        == #"board.json:6:56: tasks[1].channel: tasks[0] already drives this channel of this chip"#)
    let nine = (0..<9).map { #"{ "name": "s\#($0)", "kind": "sensor", "source": { "preset": "ds18b20" } }"# }
    let text = message(mockConfig(tasks: nine.joined(separator: ",\n")))
    #expect(
      text.hasPrefix("board.json:13:1: tasks[8]: a sensor task too many: the firmware holds 8"), "\(text)")
  }
}
