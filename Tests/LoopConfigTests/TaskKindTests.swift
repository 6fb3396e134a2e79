// One valid config per task kind (and for lines, output and sim), checking every parsed value
// and the defaults a key's absence gives.

import Foundation
import LoopCore
import LoopGPIO
import LoopTasks
import Testing

// Testable for the value types' memberwise initialisers.
@testable import LoopConfig

@Suite struct TaskKindTests {
  static let lines = """
    "note": "a note among the lines is free text, not a line",
    "led": { "name": "GPIO17", "direction": "output", "drive": "open-drain", "initial": 1 },
    "button": { "name": "GPIO27", "aliases": ["PIN13"], "direction": "input", "bias": "pull-up",
                "active_low": true, "debounce_ms": 5 },
    "wind": { "name": "GPIO22", "direction": "input" },
    "a": { "name": "GPIO5", "direction": "input" },
    "b": { "name": "GPIO6", "offset": 6, "direction": "input", "edge": "both" },
    "fan": { "name": "GPIO18", "direction": "output" }
    """

  func task(_ json: String, extraTasks: String = "") throws -> (BoardConfig, TaskConfig) {
    let config = try valid(mockConfig(lines: Self.lines, tasks: json + extraTasks))
    return (config, config.tasks[0])
  }

  @Test func heartbeat() throws {
    let (config, task) = try task(
      #"{ "name": "blink", "kind": "heartbeat", "line": "led", "pattern_ms": [50, 150, 50, 750] }"#)
    #expect(task.name.string == "blink")
    guard case .heartbeat(let heartbeat) = task.kind else { throw TestFailure("not a heartbeat") }
    #expect(config.lines[heartbeat.line].id.string == "led")
    #expect(
      heartbeat.pattern.elements == [
        .milliseconds(50), .milliseconds(150), .milliseconds(50), .milliseconds(750),
      ])

    let (_, plain) = try self.task(#"{ "name": "blink", "kind": "heartbeat", "line": "led" }"#)
    guard case .heartbeat(let defaults) = plain.kind else { throw TestFailure("not a heartbeat") }
    #expect(defaults.pattern.elements == [.milliseconds(100), .milliseconds(900)])
  }

  @Test func button() throws {
    let (config, task) = try task(
      #"{ "name": "button", "kind": "button", "line": "button", "debounce_ms": 30, "long_press_ms": 2000 }"#)
    guard case .button(let button) = task.kind else { throw TestFailure("not a button") }
    #expect(button.debounce == .milliseconds(30))
    #expect(button.longPress == .milliseconds(2000))
    let line = config.lines[button.line]
    #expect(line.id.string == "button")
    #expect(line.names.elements.map(\.string) == ["GPIO27", "PIN13"])
    #expect(line.direction == .input)
    #expect(line.edge == .both)  // derived from the task
    #expect(line.bias == .pullUp)
    #expect(line.activeLow)
    #expect(line.debounce == .milliseconds(5))

    let (_, plain) = try self.task(
      #"{ "name": "button", "kind": "button", "line": "button", "long_press_ms": 0 }"#)
    guard case .button(let defaults) = plain.kind else { throw TestFailure("not a button") }
    #expect(defaults.debounce == .milliseconds(20))
    #expect(defaults.longPress == nil)
  }

  @Test func pulseCounter() throws {
    let (config, task) = try task(
      #"""
      { "name": "wind", "kind": "pulse_counter", "line": "wind", "edge": "falling", "window_ms": 3000,
        "scale": 2.4, "unit": "km/h" }
      """#)
    guard case .pulseCounter(let counter) = task.kind else { throw TestFailure("not a pulse counter") }
    #expect(config.lines[counter.line].id.string == "wind")
    #expect(config.lines[counter.line].edge == .falling)  // the line reports what the counter counts
    #expect(counter.edge == .falling)
    #expect(counter.window == .milliseconds(3000))
    #expect(counter.scale == DecimalNumber(significand: 24, exponent: -1))
    #expect(counter.scale.double == 2.4)
    #expect(counter.unit.string == "km/h")

    let (_, plain) = try self.task(#"{ "name": "wind", "kind": "pulse_counter", "line": "wind" }"#)
    guard case .pulseCounter(let defaults) = plain.kind else { throw TestFailure("not a pulse counter") }
    #expect(defaults.edge == .rising)
    #expect(defaults.window == .milliseconds(1000))
    #expect(defaults.scale == .one)
    #expect(defaults.unit.string == "Hz")
  }

  @Test func sampler() throws {
    let (_, task) = try task(
      #"""
      { "name": "soc_temp", "kind": "sampler", "path": "/sys/class/thermal/thermal_zone0/temp",
        "period_ms": 2000, "scale": 0.001, "offset": -273.15, "unit": "°C" }
      """#)
    guard case .sampler(let sampler) = task.kind else { throw TestFailure("not a sampler") }
    #expect(sampler.path.string == "/sys/class/thermal/thermal_zone0/temp")
    #expect(sampler.period == .milliseconds(2000))
    #expect(sampler.scale == DecimalNumber(significand: 1, exponent: -3))
    #expect(sampler.scale.double == 0.001)
    #expect(sampler.offset == DecimalNumber(significand: -27315, exponent: -2))
    #expect(sampler.offset.double == -273.15)
    #expect(sampler.unit.string == "°C")
    // The path is NUL-terminated for open(2).
    let length = sampler.path.withCString { strlen($0) }
    #expect(length == sampler.path.count)
  }

  @Test func encoder() throws {
    let (config, task) = try task(
      #"{ "name": "knob", "kind": "encoder", "line_a": "a", "line_b": "b", "steps_per_detent": 2 }"#)
    guard case .encoder(let encoder) = task.kind else { throw TestFailure("not an encoder") }
    #expect(config.lines[encoder.lineA].id.string == "a")
    #expect(config.lines[encoder.lineB].id.string == "b")
    #expect(config.lines[encoder.lineB].offset == 6)
    #expect(encoder.stepsPerDetent == 2)
    #expect(config.lines[encoder.lineA].edge == .both)
  }

  @Test func threshold() throws {
    let (config, task) = try task(
      #"{ "name": "fan", "kind": "threshold", "source": "temp", "line": "fan", "on_above": 65.5, "off_below": 55 }"#,
      extraTasks: #", { "name": "temp", "kind": "sampler", "path": "/tmp/t", "scale": 0.001 }"#)
    guard case .threshold(let threshold) = task.kind else { throw TestFailure("not a threshold") }
    #expect(config.tasks[threshold.source].name.string == "temp")  // a source later in the file
    #expect(config.lines[threshold.line!].id.string == "fan")
    #expect(threshold.pwm == nil)
    #expect(threshold.onAbove.double == 65.5)
    #expect(threshold.offBelow.double == 55)
  }

  @Test func watchdog() throws {
    let (config, task) = try task(
      #"""
      { "name": "wd", "kind": "watchdog", "device": "/dev/watchdog", "kick_ms": 500, "stall_ms": 3000,
        "watch": ["tick"], "disarm_on_exit": false }
      """#,
      extraTasks:
        #", { "name": "tick", "kind": "ticker", "period_ms": 100 }, { "name": "tock", "kind": "ticker", "period_ms": 100 }"#
    )
    guard case .watchdog(let watchdog) = task.kind else { throw TestFailure("not a watchdog") }
    #expect(watchdog.device?.string == "/dev/watchdog")
    #expect(watchdog.kick == .milliseconds(500))
    #expect(watchdog.stall == .milliseconds(3000))
    #expect(watchdog.watches(1) && !watchdog.watches(2) && !watchdog.watches(0))
    #expect(!watchdog.disarmOnExit)
    #expect(config.tasks.count == 3)

    let (_, plain) = try self.task(
      #"{ "name": "wd", "kind": "watchdog" }"#,
      extraTasks: #", { "name": "tick", "kind": "ticker", "period_ms": 100 }"#)
    guard case .watchdog(let defaults) = plain.kind else { throw TestFailure("not a watchdog") }
    #expect(defaults.device == nil)  // supervises only
    #expect(defaults.kick == .milliseconds(1000))
    #expect(defaults.stall == .milliseconds(10_000))
    #expect(defaults.watched == 0b10)  // every task but itself
    #expect(defaults.disarmOnExit)
  }

  @Test func ticker() throws {
    let (_, task) = try task(#"{ "name": "tick", "kind": "ticker", "period_ms": 1 }"#)
    #expect(task.kind == .ticker(TickerConfig(period: .milliseconds(1))))
  }

  @Test func pwm() throws {
    let (config, task) = try task(
      #"{ "name": "dim", "kind": "pwm", "line": "led", "period_ms": 10, "duty_percent": 30 }"#)
    guard case .pwm(let pwm) = task.kind else { throw TestFailure("not a pwm") }
    #expect(config.lines[pwm.line].id.string == "led")
    #expect(pwm.period == .milliseconds(10))
    #expect(pwm.dutyPercent == 30)
    let line = config.lines[pwm.line]
    #expect(line.drive == .openDrain)
    #expect(line.initialValue)
    #expect(line.edge == .none)
  }

  @Test func switchFromAButton() throws {
    let (config, task) = try task(
      #"{ "name": "relay", "kind": "switch", "line": "fan", "source": "button" }"#,
      extraTasks: #", { "name": "button", "kind": "button", "line": "button" }"#)
    guard case .outputSwitch(let relay) = task.kind else { throw TestFailure("not a switch") }
    #expect(config.lines[relay.line].id.string == "fan")
    #expect(relay.source == .task(1))  // a source later in the file
    #expect(relay.toggles)  // a button toggles by default
    #expect(!relay.invert)
    let (_, follower) = try self.task(
      #"{ "name": "relay", "kind": "switch", "line": "fan", "source": "button", "mode": "follow", "invert": true }"#,
      extraTasks: #", { "name": "button", "kind": "button", "line": "button" }"#)
    #expect(
      follower.kind
        == .outputSwitch(SwitchConfig(line: relay.line, source: .task(1), toggles: false, invert: true)))
  }

  @Test func switchFromAnInputLine() throws {
    let (config, task) = try task(#"{ "name": "lamp", "kind": "switch", "line": "led", "input": "wind" }"#)
    guard case .outputSwitch(let lamp) = task.kind else { throw TestFailure("not a switch") }
    guard case .line(let input) = lamp.source else { throw TestFailure("not a line source") }
    #expect(config.lines[input].id.string == "wind")
    #expect(config.lines[input].edge == .both)  // a line is followed by default: both edges
    #expect(!lamp.toggles)
    let (toggled, toggler) = try self.task(
      #"{ "name": "lamp", "kind": "switch", "line": "led", "input": "wind", "mode": "toggle" }"#)
    guard case .outputSwitch(let relay) = toggler.kind, case .line(let line) = relay.source else {
      throw TestFailure("not a switch on a line")
    }
    #expect(relay.toggles)
    #expect(toggled.lines[line].edge == .rising)  // a toggle flips on rising edges
  }

  @Test func curve() throws {
    let (_, task) = try task(
      #"""
      { "name": "fan_curve", "kind": "curve", "source": "temp", "pwm": "fan_pwm",
        "points": [[40, 0], [50.5, 30], [70, 100]], "hysteresis": 2, "min_change_percent": 5 }
      """#,
      extraTasks: #"""
        , { "name": "temp", "kind": "sampler", "path": "/tmp/t", "scale": 0.001 },
          { "name": "fan_pwm", "kind": "pwm", "line": "fan", "duty_percent": 100 }
        """#)
    guard case .curve(let curve) = task.kind else { throw TestFailure("not a curve") }
    #expect(curve.source == 1 && curve.pwm == 2)  // both later in the file
    #expect(curve.points.elements.map { $0.reading.double } == [40, 50.5, 70])
    #expect(curve.points.elements.map { $0.duty.double } == [0, 30, 100])
    #expect(curve.hysteresis.double == 2)
    #expect(curve.minChange.double == 5)
    let (_, plain) = try self.task(
      #"{ "name": "c", "kind": "curve", "source": "knob", "pwm": "dim", "points": [[0, 0], [10, 100]] }"#,
      extraTasks: #"""
        , { "name": "knob", "kind": "encoder", "line_a": "a", "line_b": "b" },
          { "name": "dim", "kind": "pwm", "line": "led", "duty_percent": 0 }
        """#)
    guard case .curve(let defaults) = plain.kind else { throw TestFailure("not a curve") }
    #expect(defaults.hysteresis.double == 0 && defaults.minChange.double == 0)
  }

  @Test func thresholdOnADuty() throws {
    let (_, task) = try task(
      #"{ "name": "fan", "kind": "threshold", "source": "temp", "pwm": "fan_pwm", "on_above": 65, "off_below": 55, "duty_on": 80, "duty_off": 10.5 }"#,
      extraTasks: #"""
        , { "name": "temp", "kind": "sampler", "path": "/tmp/t" },
          { "name": "fan_pwm", "kind": "pwm", "line": "fan", "duty_percent": 0 }
        """#)
    guard case .threshold(let threshold) = task.kind else { throw TestFailure("not a threshold") }
    #expect(threshold.line == nil && threshold.pwm == 2)
    #expect(threshold.dutyOn.double == 80 && threshold.dutyOff.double == 10.5)
    let (_, plain) = try self.task(
      #"{ "name": "fan", "kind": "threshold", "source": "temp", "pwm": "fan_pwm", "on_above": 65 }"#,
      extraTasks: #"""
        , { "name": "temp", "kind": "sampler", "path": "/tmp/t" },
          { "name": "fan_pwm", "kind": "pwm", "line": "fan", "duty_percent": 0 }
        """#)
    guard case .threshold(let defaults) = plain.kind else { throw TestFailure("not a threshold") }
    #expect(defaults.dutyOn.double == 100 && defaults.dutyOff.double == 0)
  }

  @Test func unusedInputReportsBothEdges() throws {
    let config = try valid(
      mockConfig(lines: Self.lines, tasks: #"{ "name": "tick", "kind": "ticker", "period_ms": 5 }"#))
    let wind = config.lines[config.lineIndex(Array("wind".utf8))!]
    #expect(wind.edge == .both)
  }

  @Test func chipSelectors() throws {
    // The config says it in LoopGPIO's own `ChipSelector`; the simulated board is its one chip.
    func chip(_ json: String) throws -> (Bool, ChipSelector) {
      let config = try valid(
        """
        { "board": "b", "gpio": \(json), "tasks": [{ "name": "t", "kind": "ticker", "period_ms": 5 }] }
        """
      )
      return (config.simulated, config.chip)
    }
    #expect(try chip(#""mock""#) == (true, .name(GPIOName("gpiochip0"))))
    #expect(try chip(#"{ "chip": "mock" }"#) == (true, .name(GPIOName("gpiochip0"))))
    #expect(try chip(#"{ "chip": "pinctrl-rp1" }"#) == (false, .label(GPIOName("pinctrl-rp1"))))
    #expect(try chip(#"{ "chip": "gpiochip4" }"#) == (false, .name(GPIOName("gpiochip4"))))
    #expect(try chip(#"{ "chip": "/dev/gpiochip0" }"#) == (false, .path(GPIOName("/dev/gpiochip0"))))
    let config = try valid(
      #"{ "board": "b", "gpio": { "chip": "x", "consumer": "weather" }, "tasks": [{ "name": "t", "kind": "ticker", "period_ms": 5 }] }"#
    )
    #expect(config.consumer.string == "weather")
  }

  @Test func knownChipLines() throws {
    let config = try valid(
      #"""
      { "board": "Pi 5", "gpio": { "chip": "pinctrl-rp1" },
        "lines": {
          "sda": { "name": "GPIO2", "aliases": ["PIN3"], "offset": 2, "pin": 3, "direction": "input" },
          "led": { "name": "GPIO17", "direction": "output" },
          "other": { "name": "FAN_PWM", "direction": "output" }
        },
        "tasks": [{ "name": "t", "kind": "ticker", "period_ms": 5 }] }
      """#)
    #expect(config.lines[0].bcm == 2)
    #expect(config.lines[0].headerPin == 3)
    #expect(config.lines[1].bcm == 17)
    #expect(config.lines[1].headerPin == 11)
    #expect(config.lines[2].bcm == nil)  // a name the validator does not know is taken as written
  }

  @Test func output() throws {
    let tick = #"{ "name": "t", "kind": "ticker", "period_ms": 5 }"#
    #expect(try valid(mockConfig(tasks: tick)).output == RecordOutput(target: .stdout, ringBytes: 65536))
    let file = try valid(
      mockConfig(tasks: tick, extra: #", "output": { "to": "out.jsonl", "ring_bytes": 4096 }"#))
    #expect(file.output == RecordOutput(target: .file(Path("out.jsonl")), ringBytes: 4096))
    let stderr = try valid(mockConfig(tasks: tick, extra: #", "output": { "to": "stderr" }"#))
    #expect(stderr.output.target == .stderr)
    #expect(stderr.output.format == .json)  // the default
    let influx = try valid(mockConfig(tasks: tick, extra: #", "output": { "format": "influx" }"#))
    #expect(influx.output == RecordOutput(target: .stdout, ringBytes: 65536, format: .influx))
    let json = try valid(mockConfig(tasks: tick, extra: #", "output": { "format": "json" }"#))
    #expect(json.output.format == .json)
  }

  @Test func simStimuli() throws {
    let config = try valid(
      mockConfig(
        lines: Self.lines, tasks: #"{ "name": "t", "kind": "ticker", "period_ms": 5 }"#,
        extra: #"""
          , "sim": {
            "stimuli": [
              { "kind": "edge", "line": "wind", "at_ms": 10, "value": 1 },
              { "kind": "pulses", "line": "wind", "at_ms": 20, "frequency_hz": 4, "duty_percent": 25, "count": 8 },
              { "kind": "pulses", "line": "wind", "frequency_hz": 2.5, "duration_ms": 2000 },
              { "kind": "pulses", "line": "wind", "frequency_hz": 1000 },
              { "kind": "bounce", "line": "button", "at_ms": 30, "transitions": 5, "within_us": 2000, "value": 0 },
              { "kind": "press", "line": "button", "at_ms": 40, "hold_ms": 150, "count": 3, "every_ms": 500,
                "bounce": 2, "bounce_us": 700 },
              { "kind": "press", "line": "button", "at_ms": 50 },
              { "kind": "quadrature", "line_a": "a", "line_b": "b", "at_ms": 60, "steps": 12, "direction": "ccw",
                "rate_hz": 200 }
            ],
            "files": [ { "path": "/tmp/t", "values": [1, -2, 3], "every_ms": 250, "repeat": false } ]
          }
          """#))
    let stimuli = config.stimuli.elements
    #expect(stimuli.count == 8)
    let wind = config.lineIndex(Array("wind".utf8))!
    let button = config.lineIndex(Array("button".utf8))!
    #expect(stimuli[0] == .edge(line: wind, at: .milliseconds(10), value: true))
    #expect(
      stimuli[1]
        == .pulses(
          PulseTrain(
            line: wind, at: .milliseconds(20), frequencyHz: DecimalNumber(significand: 4),
            period: .milliseconds(250), high: .microseconds(62_500), count: 8)))
    guard case .pulses(let byDuration) = stimuli[2], case .pulses(let endless) = stimuli[3] else {
      throw TestFailure("not pulses")
    }
    #expect(byDuration.period == .milliseconds(400))
    #expect(byDuration.count == 5)
    #expect(endless.count == nil)
    #expect(endless.high == .microseconds(500))
    #expect(
      stimuli[4]
        == .bounce(
          line: button, at: .milliseconds(30), transitions: 5, within: .microseconds(2000), value: false))
    #expect(
      stimuli[5]
        == .press(
          Press(
            line: button, at: .milliseconds(40), hold: .milliseconds(150), count: 3,
            every: .milliseconds(500),
            bounceTransitions: 2, bounceWithin: .microseconds(700))))
    guard case .press(let single) = stimuli[6] else { throw TestFailure("not a press") }
    #expect(single.count == 1 && single.hold == .milliseconds(100) && single.bounceTransitions == 0)
    #expect(
      stimuli[7]
        == .quadrature(
          Quadrature(
            lineA: config.lineIndex(Array("a".utf8))!, lineB: config.lineIndex(Array("b".utf8))!,
            at: .milliseconds(60), steps: 12, clockwise: false, interval: .milliseconds(5))))
    let file = config.simFiles[0]
    #expect(file.path.string == "/tmp/t")
    #expect(file.values.elements == [1, -2, 3])
    #expect(file.every == .milliseconds(250))
    #expect(file.at == .zero)
    #expect(!file.repeats)
  }

  @Test func capacityPlanOfSimBoard() throws {
    let path = repositoryRoot.appendingPathComponent("Boards/sim.json").path
    let config: BoardConfig
    do throws(ConfigError) {
      config = try loadBoardConfig(path: Array(path.utf8))
    } catch {
      throw TestFailure(String(decoding: error.rendered, as: UTF8.self))
    }
    let plan = CapacityPlan(config)
    // 12 tasks + output writer, signal handler, summary writer, worker dispatcher, stop timer,
    // systemd keepalive + stimulus driver + one sim file writer.
    #expect(plan.slots.used == 20 && plan.slots.limit == ConfigLimits.maxSlots)
    // 8 tasks wait on time (not the encoder, the threshold, the switch or the curve) + stop timer and systemd
    // keepalive + the two sim drivers.
    #expect(plan.timers.used == 12)
    #expect(plan.lines.used == 9)
    // 4 platform + 2 worker eventfds + systemd's socket + 3 × 4 mock inputs + one per worker
    // thread for sampler and sim file reads (the watchdog has no device).
    #expect(plan.fds.used == 21)
    // 8 reserved + one per line.
    #expect(plan.interrupts.used == 17)
    var text: [UInt8] = []
    plan.render(into: &text)
    #expect(
      String(decoding: text, as: UTF8.self) == """
        slots       20 of 40
        timers      12 of 40
        lines       9 of 32
        fds         21 of 64
        interrupts  17 of 64
        ring bytes  65536

        """)
  }

  @Test func capacityPlanOfARealBoard() throws {
    let path = repositoryRoot.appendingPathComponent("Boards/pi-4b.json").path
    let config: BoardConfig
    do throws(ConfigError) {
      config = try loadBoardConfig(path: Array(path.utf8))
    } catch {
      throw TestFailure(String(decoding: error.rendered, as: UTF8.self))
    }
    let plan = CapacityPlan(config)
    #expect(plan.slots.used == 7 + 6)
    // heartbeat, button, wind, soc_temp, watchdog + stop timer and systemd keepalive.
    #expect(plan.timers.used == 5 + 2)
    // 4 platform + 2 worker eventfds + systemd's socket + the lookup chip + 2 × 6 lines
    // (libgpiod v1: each line's own chip fd and its request fd) + one per worker thread for
    // sampler reads; the watchdog has no device.
    #expect(plan.fds.used == 22)
    #expect(plan.interrupts.used == 8 + 6)
  }

  @Test func listCapacitiesMatchTheLimits() throws {
    // The list types' capacities are literals in Schema.swift; ConfigLimits must agree.
    var config = try valid(
      mockConfig(
        lines: Self.lines, tasks: #"{ "name": "t", "kind": "ticker", "period_ms": 5 }"#,
        extra:
          #", "sim": { "stimuli": [{ "kind": "edge", "line": "wind", "value": 1 }], "files": [{ "path": "/tmp/t", "values": [1] }] }"#
      ))
    while !config.tasks.isFull { config.tasks.append(config.tasks[0]) }
    while !config.lines.isFull { config.lines.append(config.lines[0]) }
    while !config.stimuli.isFull { config.stimuli.append(config.stimuli[0]) }
    while !config.simFiles.isFull { config.simFiles.append(config.simFiles[0]) }
    #expect(config.tasks.count == ConfigLimits.maxTasks)
    #expect(config.lines.count == ConfigLimits.maxLines)
    #expect(config.stimuli.count == ConfigLimits.maxStimuli)
    #expect(config.simFiles.count == ConfigLimits.maxSimFiles)
    #expect(FixedList<16, Duration>().isEmpty)
    #expect(
      ConfigLimits.maxPatternSteps == 16 && ConfigLimits.maxSimFileValues == 16
        && ConfigLimits.maxLineNames == 4)
  }
}
