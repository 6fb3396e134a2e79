// The sensor and pwm_hw kinds through the real program, on the simulated board (`"gpio":
// "mock"`) with a fake sysfs tree the test builds in a temporary folder (`sysfs_root`): a
// DS18B20 whose `temperature` is a FIFO answering 1.5 s after it is opened (a slow 1-Wire
// conversion: the loop keeps ticking meanwhile, the ticks that find the read in flight are
// `busy`), a second DS18B20 unplugged and plugged back (error records, not values), a BME280's
// three values in one record, a hwmon input driving a threshold, a hardware PWM channel set up,
// reported and released at exit; and, release build with the allocation counter preloaded, no
// heap after startup with every preset, filter and rule kind in one config (a curve and a duty
// threshold setting two pwm_hw channels, a switch toggled by a button).

import Foundation
import HostTestSupport
import Testing

/// The layouts these tests use, on the fake sysfs tree of HostTestSupport.
extension FakeSysfs {
  /// A DS18B20 as w1_therm (5.10+) shows it: 12 bits take 750 ms a conversion, 9 bits 94 ms.
  func ds18b20(_ id: String, milliC: Int, bits: Int = 12) {
    file("bus/w1/devices/\(id)/name", id + "\n")
    file("bus/w1/devices/\(id)/temperature", "\(milliC)\n")
    file("bus/w1/devices/\(id)/resolution", "\(bits)\n")
    file("bus/w1/devices/\(id)/conv_time", bits == 9 ? "94\n" : "750\n")
  }

  /// The sensors of every test here: two DS18B20 on the bus, a BME280 and an ADS1015 over IIO
  /// (the ADC with a `_scale` its voltage channels share), the SoC's hwmon, a PWM chip with
  /// channel 0 exported (a fake tree cannot make the kernel's pwmM appear on export).
  func board() {
    file("bus/w1/devices/w1_bus_master1/w1_master_slaves", "28-00000a000001\n28-00000a000002\n")
    ds18b20("28-00000a000001", milliC: 21500)
    ds18b20("28-00000a000002", milliC: 18250, bits: 9)
    let bme = "bus/iio/devices/iio:device0/"
    file(bme + "name", "bme280\n")
    file(bme + "in_temp_input", "21370\n")
    file(bme + "in_humidityrelative_input", "45123\n")
    file(bme + "in_pressure_input", "100.768554687\n")
    let adc = "bus/iio/devices/iio:device1/"
    file(adc + "name", "ads1015\n")
    file(adc + "in_voltage0_raw", "1650\n")
    file(adc + "in_voltage_scale", "2.000000000\n")
    file("class/hwmon/hwmon0/name", "cpu_thermal\n")
    file("class/hwmon/hwmon0/temp1_input", "48312\n")
    let pwm = "class/pwm/pwmchip0/"
    file(pwm + "npwm", "2\n")
    file(pwm + "export", "")
    file(pwm + "unexport", "")
    file(pwm + "device/uevent", "DRIVER=pwm-bcm2835\nOF_COMPATIBLE_0=brcm,bcm2835-pwm\nOF_COMPATIBLE_N=1\n")
    for attribute in ["period", "duty_cycle", "enable"] { file(pwm + "pwm0/" + attribute, "0\n") }
    file(pwm + "pwm0/polarity", "normal\n")
  }

  /// A config on the mock board reading this tree.
  func config(tasks: String) -> String {
    """
    {
      "board": "fake sysfs", "gpio": "mock",
      "lines": { "fan": { "name": "GPIO18", "direction": "output" } },
      "tasks": [
        \(tasks)
      ]
    }
    """
  }

  /// `"sysfs_root": "<root>"`.
  var rootKey: String { "\"sysfs_root\": \"\(root)\"" }
}

@Suite(.serialized) struct SensorEndToEndTests {
  @Test func presetsThresholdAndHardwarePWMOnAFakeTree() throws {
    signal(SIGPIPE, SIG_IGN)
    let tree = FakeSysfs()
    tree.board()
    let fifo = tree.root + "/bus/w1/devices/28-00000a000001/temperature"
    tree.remove("bus/w1/devices/28-00000a000001/temperature")
    try #require(mkfifo(fifo, 0o600) == 0)
    let config = tree.config(
      tasks: """
        { "name": "slow", "kind": "sensor", "period_ms": 1000,
          "source": { "preset": "ds18b20", "id": "28-00000a000001", \(tree.rootKey) } },
        { "name": "probe", "kind": "sensor", "period_ms": 250,
          "source": { "preset": "ds18b20", "id": "28-00000a000002", \(tree.rootKey) } },
        { "name": "air", "kind": "sensor", "period_ms": 500,
          "source": { "preset": "iio", "device": "bme280", "channels": ["in_temp", "in_humidityrelative", "in_pressure"],
                      \(tree.rootKey) },
          "filters": { "pressure": [{ "kind": "median", "window": 3 }] } },
        { "name": "soc", "kind": "sensor", "period_ms": 500,
          "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": "temp1_input", \(tree.rootKey) } },
        { "name": "fan", "kind": "threshold", "source": "soc", "line": "fan", "on_above": 45, "off_below": 40 },
        { "name": "fan_pwm", "kind": "pwm_hw", "chip": "pwm-bcm2835", "channel": 0, "period_us": 40,
          "duty_percent": 25, \(tree.rootKey) },
        { "name": "tick", "kind": "ticker", "period_ms": 100 }
        """)
    let file = tree.root + "/board.json"
    try config.write(toFile: file, atomically: true, encoding: .utf8)

    // The slow sensor: each read is answered 1.5 s after the worker opens the FIFO.
    let stopped = LockedFlag()
    let answered = DispatchSemaphore(value: 0)
    let writer = Thread {
      while true {
        let fd = open(fifo, O_WRONLY)
        if stopped.value || fd < 0 {
          if fd >= 0 { close(fd) }
          break
        }
        Thread.sleep(forTimeInterval: 1.5)
        _ = write(fd, "21500\n", 6)
        close(fd)
      }
      answered.signal()
    }
    writer.start()
    let run = try sensorloop(["--config", file, "--duration", "5"]) { _ in
      // The second probe is unplugged from about 1.5 s to 3 s.
      Thread.sleep(forTimeInterval: 1.5)
      tree.remove("bus/w1/devices/28-00000a000002")
      Thread.sleep(forTimeInterval: 1.5)
      tree.ds18b20("28-00000a000002", milliC: 18250, bits: 9)
    }
    stopped.value = true
    let release = open(fifo, O_RDONLY | O_NONBLOCK)  // ends the writer's wait for a reader
    _ = answered.wait(timeout: .now() + 5)
    if release >= 0 { close(release) }
    #expect(run.status == 0, "\(run.stderr)")

    // The slow DS18B20: readings stamped with their tick, read_us the conversion's 1.5 s; the
    // ticks in between find the read in flight.
    let slow = run.events("slow")
    let readings = slow.filter { $0["event"] as? String == "reading" }
    try #require(!readings.isEmpty, "\(slow)")
    for reading in readings {
      #expect(reading["value"] as? Double == 21.5)
      #expect(reading["unit"] as? String == "°C")
    }
    // (The first read may be shorter: startup's check that the file exists opened the FIFO.)
    let first = try #require(readings.max { ($0["read_us"] as? Int ?? 0) < ($1["read_us"] as? Int ?? 0) })
    let readUs = try #require(first["read_us"] as? Int)
    #expect(readUs >= 1_400_000, "\(readings)")
    let busy = slow.filter { ($0["event"] as? String) == "busy" }
    #expect(busy.contains { ($0["pending_ms"] as? Int ?? 0) >= 900 }, "\(slow)")
    // The loop went on during the read: ticks stamped between the sample's tick and its end.
    let asked = (first["t_ns"] as! NSNumber).int64Value
    let during = run.events("tick", "tick").filter {
      let t = ($0["t_ns"] as! NSNumber).int64Value
      return t > asked && t < asked + Int64(readUs) * 1000
    }
    #expect(during.count >= 5, "\(during.count) ticks during a \(readUs) us read")

    // The unplugged probe: error records naming what failed, then values again.
    let probe = run.events("probe")
    let errors = probe.filter { $0["event"] as? String == "error" }
    #expect(!errors.isEmpty, "\(probe)")
    let enoent = Int(ENOENT)
    for error in errors {
      #expect(error["error"] as? String == "missing")
      #expect(error["channel"] as? String == "temperature")
      #expect(error["errno"] as? Int == enoent)
      #expect(error["value"] == nil)
    }
    let lastError = try #require(probe.lastIndex { $0["event"] as? String == "error" })
    #expect(probe[..<lastError].contains { $0["value"] as? Double == 18.25 })
    #expect(probe[lastError...].contains { $0["value"] as? Double == 18.25 }, "\(probe)")

    // The BME280: three values in one record.
    let air = try #require(run.events("air", "reading").first)
    #expect(air["temperature"] as? Double == 21.37)
    #expect(air["humidity"] as? Double == 45.123)
    #expect(air["pressure"] as? Double == 100.769)
    #expect(air["value"] == nil)

    // The SoC's 48.3 °C turns the fan's line on, once.
    #expect(run.events("soc", "reading").first?["value"] as? Double == 48.312)
    #expect(run.events("fan", "on").count == 1)

    // The PWM channel: reported once, released at exit.
    let duty = run.events("fan_pwm", "duty")
    #expect(duty.count == 1)
    #expect(duty.first?["duty_percent"] as? Double == 25)
    #expect(duty.first?["period_ns"] as? Int == 40_000)
    #expect(tree.read("class/pwm/pwmchip0/pwm0/period") == "40000")
    #expect(tree.read("class/pwm/pwmchip0/pwm0/duty_cycle") == "10000")
    #expect(tree.read("class/pwm/pwmchip0/pwm0/enable") == "0")
    #expect(tree.read("class/pwm/pwmchip0/unexport") == "0")

    // The summary counts the sensors' errors and busy ticks like a sampler's.
    let row = try #require(run.stderr.split(separator: "\n").first { $0.hasPrefix("probe ") })
    #expect(row.contains("sensor"), "\(row)")
    #expect(Int(row.split(separator: " ").last!) == errors.count, "\(row)")
  }

  @Test func startupErrorsNameWhatIsMissing() throws {
    let tree = FakeSysfs()
    tree.board()
    let cases: [(String, String)] = [
      (
        #"{ "name": "t", "kind": "sensor", "source": { "preset": "ds18b20", "sysfs_root": "/nonexistent" } }"#,
        #"sensorloop: task "t" (ds18b20): no 1-Wire temperature sensor found: /nonexistent/bus/w1/devices; enable 1-Wire: dtoverlay=w1-gpio"#
      ),
      (
        #"{ "name": "t", "kind": "sensor", "source": { "preset": "ds18b20", \#(tree.rootKey) } }"#,
        #"several 1-Wire temperature sensors: give the id of one: \#(tree.root)/bus/w1/devices; found: 28-00000a000001, 28-00000a000002"#
      ),
      (
        #"{ "name": "t", "kind": "sensor", "source": { "preset": "iio", "device": "bme680", "channels": "in_temp", \#(tree.rootKey) } }"#,
        #"sensorloop: task "t" (iio "bme680"): no device with this name: \#(tree.root)/bus/iio/devices; found: bme280, ads1015; enable the chip's overlay"#
      ),
      (
        #"{ "name": "t", "kind": "sensor", "period_ms": 500, "source": { "preset": "ds18b20", "id": "28-00000a000001", \#(tree.rootKey) } }"#,
        #"period_ms is 500, shorter than the sensor's conversion time (750 ms)"#
      ),
      (
        #"{ "name": "t", "kind": "pwm_hw", "chip": 3, "period_us": 40, \#(tree.rootKey) }"#,
        #"sensorloop: task "t" (pwm_hw channel 0): no such PWM chip: \#(tree.root)/class/pwm; found: pwmchip0 (pwm-bcm2835); enable hardware PWM: dtoverlay=pwm-2chan"#
      ),
    ]
    for (task, expected) in cases {
      let file = tree.root + "/bad.json"
      try tree.config(tasks: task).write(toFile: file, atomically: true, encoding: .utf8)
      let run = try sensorloop(["--config", file, "--duration", "1"])
      #expect(run.status == 1, "\(task): \(run.stderr)")
      #expect(run.stderr.contains(expected), "\(task): \(run.stderr)")
      #expect(run.stdout.isEmpty)
    }
  }

  /// Every preset, every filter kind and every rule kind in one config, on the release build
  /// with the allocation counter preloaded: nothing allocated once started. The SoC's
  /// temperature moves every 100 ms (a sim file), so the curve and the duty threshold set the
  /// two pwm_hw channels' duties over and over; a button toggles a relay through a switch.
  @Test func heapAllocationsAfterStartupAreZeroWithEveryPresetAndFilter() throws {
    let release = try releaseSensorloop()
    let library = FileManager.default.temporaryDirectory.appendingPathComponent(
      "liballoccounter-s-\(getpid()).so")
    try buildAllocCounter(at: library)
    defer { try? FileManager.default.removeItem(at: library) }
    let tree = FakeSysfs()
    tree.board()
    let pwm = "class/pwm/pwmchip0/pwm1/"
    for attribute in ["period", "duty_cycle", "enable"] { tree.file(pwm + attribute, "0\n") }
    tree.file(pwm + "polarity", "normal\n")
    let file = tree.root + "/board.json"
    try """
    {
      "board": "fake sysfs", "gpio": "mock",
      "lines": {
        "fan": { "name": "GPIO18", "direction": "output" },
        "relay": { "name": "GPIO23", "direction": "output" },
        "button": { "name": "GPIO27", "direction": "input", "bias": "pull-up", "active_low": true }
      },
      "tasks": [
        { "name": "tank", "kind": "sensor", "period_ms": 750,
          "source": { "preset": "ds18b20", "id": "28-00000a000001", \(tree.rootKey) },
          "filters": [{ "kind": "median", "window": 5 }, { "kind": "delta", "minimum": 0.1 },
                      { "kind": "heartbeat", "interval_ms": 1000 }] },
        { "name": "air", "kind": "sensor", "period_ms": 100,
          "source": { "preset": "iio", "device": "bme280", "channels": ["in_temp", "in_humidityrelative", "in_pressure"],
                      \(tree.rootKey) },
          "filters": { "temperature": [{ "kind": "average", "window": 16 }, { "kind": "throttle", "interval_ms": 300 }],
                       "humidity": [{ "kind": "exponential", "alpha": 0.2 }, { "kind": "clamp", "low": 0, "high": 100 }],
                       "pressure": [{ "kind": "calibrate", "points": [[100, 100.5], [110, 110.5]] }] } },
        { "name": "adc", "kind": "sensor", "period_ms": 100,
          "source": { "preset": "iio", "device": "ads1015", "channels": "in_voltage0", \(tree.rootKey) } },
        { "name": "soc", "kind": "sensor", "period_ms": 100,
          "source": { "preset": "hwmon", "device": "cpu_thermal", "inputs": ["temp1_input"], \(tree.rootKey) } },
        { "name": "fan", "kind": "threshold", "source": "soc", "line": "fan", "on_above": 45 },
        { "name": "fan_curve", "kind": "curve", "source": "soc", "pwm": "fan_pwm", "points": [[40, 20], [60, 100]] },
        { "name": "fan_pwm", "kind": "pwm_hw", "period_us": 40, "duty_percent": 50, \(tree.rootKey) },
        { "name": "alarm", "kind": "threshold", "source": "soc", "pwm": "beeper", "on_above": 57, "off_below": 47,
          "duty_on": 50 },
        { "name": "beeper", "kind": "pwm_hw", "channel": 1, "period_us": 500, \(tree.rootKey) },
        { "name": "button", "kind": "button", "line": "button", "debounce_ms": 20 },
        { "name": "relay", "kind": "switch", "line": "relay", "source": "button", "mode": "toggle" }
      ],
      "sim": {
        "stimuli": [
          { "kind": "press", "line": "button", "at_ms": 300, "hold_ms": 100, "count": 10, "every_ms": 250 }
        ],
        "files": [
          { "path": "\(tree.root)/class/hwmon/hwmon0/temp1_input", "at_ms": 50, "every_ms": 100, "repeat": true,
            "values": [45000, 50000, 55000, 60000, 55000, 50000] }
        ]
      }
    }
    """.write(toFile: file, atomically: true, encoding: .utf8)
    let run = try sensorloop(
      ["--config", file, "--duration", "3"], binary: release, environment: ["LD_PRELOAD": library.path])
    #expect(run.status == 0, "\(run.stderr)")
    #expect(run.events("air", "reading").count >= 10)
    #expect(run.events("adc", "reading").first?["value"] as? Double == 3.3)
    #expect(run.events("tank", "reading").contains { $0["repeat"] as? Bool == true })
    // The rules drove their outputs all along: the fan's and the beeper's duties changed many
    // times, the relay toggled at each press.
    #expect(run.events("fan_pwm", "duty").count >= 10, "\(run.stdout)")
    #expect(run.events("beeper", "duty").count >= 4, "\(run.stdout)")
    #expect(run.events("relay").filter { $0["event"] as? String == "on" }.count >= 4, "\(run.stdout)")
    #expect(run.events("fan_pwm", "error").isEmpty && run.events("beeper", "error").isEmpty)
    #expect(run.stderr.contains("heap allocations after startup: 0\n"), "\(run.stderr)")
  }
}
