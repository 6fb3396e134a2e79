// A simulated day: the full sim board (every task kind: heartbeat, button, pulse counter,
// sampler, encoder, threshold, pwm, ticker, watchdog, switch, curve; and the sim file writer
// feeding the sampler), plus `DaySensors` (a `sensor` task per preset on a fake sysfs tree,
// every filter, a curve and a duty threshold driving two `pwm_hw` channels), on the virtual
// platform, with scripted stimuli (1 kHz gusts of anemometer pulses, bouncy presses and long
// presses, encoder turns both ways) for 24 hours of board time. The
// records are read from the output pipe every virtual minute and checked one by one against
// what the stimuli must give; every virtual hour the invariants are checked: nothing lost on
// any line, nothing dropped, no tick missed or off its grid, no heap allocation since the
// warm-up, no task slot or timer leaked.
//
// The rates are set per build. A debug build (`swift test`, CI) runs the day with the board's
// 1 s periods (PWM at 1 s), a one-second 1 kHz gust every hour, a press every 2 minutes and a
// turn every 5: about 45 s on a loaded 2-core host (the sensors add about 8 s of it: 37.8 s
// without them, 45.9 s with, run back to back), where each stimulus edge costs ~0.1 ms
// (unspecialised generic code). A release build (`swift test -c release -Xswiftc -enable-testing
// --filter SimulatedDay`) runs the same day with PWM at 20 ms, a minute of 1 kHz pulses every
// hour and a 10 Hz breeze between, a press every 30 s and a turn every minute. `SIMDAY_HOURS`,
// `SIMDAY_GUST_S`, `SIMDAY_BREEZE_HZ`, `SIMDAY_PERIOD_S` and `SIMDAY_PWM_MS` override the span
// and rates.

import AllocCounter
import Foundation
import HostTestSupport
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import Testing

/// The rates and span of one simulated run.
struct DayProfile: CustomStringConvertible {
  /// Virtual hours to run.
  var hours: Int64
  /// The period of the ticker, the sampler (and the file writer feeding it), the pulse
  /// counter's window, the watchdog's kick and the heartbeat's pattern, in seconds.
  var period: Int64
  /// The dimmer's PWM period.
  var pwmPeriod: Duration
  /// Anemometer pulses from the start of every hour: `gustHz` for `gustSeconds`.
  var gustHz: Int64 = 1000
  var gustSeconds: Int64
  /// Pulses for the rest of each hour after a one-second lull, until a second before its end
  /// (0: calm).
  var breezeHz: Int64
  /// A bouncy press every `pressEvery` seconds from 7 s (every tenth one held 1.5 s: a long
  /// press); it divides or is a multiple of 60.
  var pressEvery: Int64
  /// A 48-step encoder turn (1,000 steps/s), clockwise and back in turn, every `turnEvery`
  /// seconds from 13 s; a multiple of 60.
  var turnEvery: Int64

  var description: String {
    "\(hours) h; periods \(period) s, PWM \(pwmPeriod.nanoseconds / 1_000_000) ms; \(gustHz) Hz pulses "
      + "for \(gustSeconds) s each hour, \(breezeHz) Hz after; a press every \(pressEvery) s, "
      + "a turn every \(turnEvery) s"
  }

  static var forThisBuild: DayProfile {
    #if DEBUG
      var profile = DayProfile(
        hours: 24, period: 1, pwmPeriod: .seconds(1), gustSeconds: 1, breezeHz: 0, pressEvery: 120,
        turnEvery: 300)
    #else
      var profile = DayProfile(
        hours: 24, period: 1, pwmPeriod: .milliseconds(20), gustSeconds: 60, breezeHz: 10, pressEvery: 30,
        turnEvery: 60)
    #endif
    let environment = ProcessInfo.processInfo.environment
    if let hours = environment["SIMDAY_HOURS"].flatMap({ Int64($0) }) { profile.hours = hours }
    if let gust = environment["SIMDAY_GUST_S"].flatMap({ Int64($0) }) { profile.gustSeconds = gust }
    if let breeze = environment["SIMDAY_BREEZE_HZ"].flatMap({ Int64($0) }) { profile.breezeHz = breeze }
    if let period = environment["SIMDAY_PERIOD_S"].flatMap({ Int64($0) }) { profile.period = period }
    if let pwm = environment["SIMDAY_PWM_MS"].flatMap({ Int64($0) }) {
      profile.pwmPeriod = .milliseconds(pwm)
    }
    return profile
  }
}

/// A pulse train as scheduled: `count` rising edges `1/hz` apart from `start` (ns after the start).
struct PulseTrain {
  var start: Int64
  var hz: Int64
  var count: Int64

  /// Edges before `t` (ns after the start); `hz` divides a second exactly.
  func edges(before t: Int64) -> Int64 {
    let step = 1_000_000_000 / hz
    if t <= start { return 0 }
    return min(count, (t - start + step - 1) / step)
  }
}

/// One record, decoded without Foundation's JSON (a day has hundreds of thousands).
struct FastRecord {
  var time: Int64 = 0
  var task = ""
  var event = ""
  var numbers: [String: Int64] = [:]
  var decimals: [String: Double] = [:]
  /// The keys whose value is `true` (a switch's "initial", a sensor's "repeat").
  var flags: Set<String> = []

  /// Parses `{"t_ns":N,"wall_ns":N,"task":"…","event":"…",…}` (the firmware's own fixed layout).
  init?(_ line: ArraySlice<UInt8>) {
    var i = line.startIndex
    func expect(_ text: String) -> Bool {
      for byte in text.utf8 {
        guard i < line.endIndex, line[i] == byte else { return false }
        i += 1
      }
      return true
    }
    func string() -> String? {
      guard i < line.endIndex, line[i] == 0x22 else { return nil }
      i += 1
      let start = i
      while i < line.endIndex && line[i] != 0x22 { i += 1 }
      guard i < line.endIndex else { return nil }
      defer { i += 1 }
      return String(decoding: line[start..<i], as: UTF8.self)
    }
    func number() -> (Int64, Double)? {
      let start = i
      while i < line.endIndex && line[i] != 0x2C && line[i] != 0x7D { i += 1 }
      let text = String(decoding: line[start..<i], as: UTF8.self)
      guard let value = Double(text) else { return nil }
      return (Int64(text) ?? Int64(value), value)
    }
    guard expect("{\"t_ns\":"), let t = number(), expect(",\"wall_ns\":"), number() != nil,
      expect(",\"task\":"), let task = string(),
      expect(",\"event\":"), let event = string()
    else { return nil }
    time = t.0
    self.task = task
    self.event = event
    while i < line.endIndex && line[i] == 0x2C {
      i += 1
      guard let key = string(), expect(":") else { return nil }
      if i < line.endIndex && line[i] == 0x22 {
        _ = string()
      } else if expect("true") {
        flags.insert(key)
      } else if expect("false") {
        continue
      } else if let value = number() {
        numbers[key] = value.0
        decimals[key] = value.1
      } else {
        return nil
      }
    }
    guard expect("}") else { return nil }
  }
}

/// What was scheduled, to check the records against.
struct DayScript {
  var pulses: [PulseTrain] = []
  var presses: [(down: Int64, up: Int64, long: Bool)] = []
  var nextPress = 0
  var turns: [(start: Int64, clockwise: Bool)] = []

  func pulses(before t: Int64) -> Int64 { pulses.reduce(0) { $0 + $1.edges(before: t) } }
}

/// The day's tallies so far.
struct DayBook {
  var records = 0
  var ticks: Int64 = 0
  var windows: Int64 = 0
  var pulsesCounted: Int64 = 0
  var readings: Int64 = 0
  var presses = 0
  var releases = 0
  var longPresses = 0
  var steps: Int64 = 0
  var position: Int64 = 0
  var fanSwitches = 0
  var relayRecords = 0
  var fanDuties = 0
  var problems: [String] = []

  mutating func problem(_ text: String) {
    if problems.count < 20 { problems.append(text) }
  }
}

@Suite(.serialized) struct SimulatedDayTests {
  static let second: Int64 = 1_000_000_000
  /// Sampler file contents in turn (millidegrees), as sim.json's fake thermal zone.
  static let temperatures: [Int64] = [45000, 48000, 51000, 54000, 57000, 58000, 56000, 53000, 49000, 47000]
  /// The fan curve's duty at each of those readings once the first cycle has passed (nil: it
  /// holds: 48 °C is within 5 % of 45 °C's, 58 °C to 56 °C is within the hysteresis).
  static let fanDuties: [Double?] = [28, nil, 47.5, 70, 92.5, 100, nil, 77.5, 47.5, 36]

  @Test func aDayOnTheSimulatedBoard() throws {
    let profile = DayProfile.forThisBuild
    let wall = Date()
    let period = profile.period * Self.second
    // In memory when the host has a tmpfs, as the sysfs files a board samples are: a disk
    // shared with busy builds makes the day's 170,000 file writes wait on its journal.
    func scratchPath(_ name: String) -> String {
      FileManager.default.fileExists(atPath: "/dev/shm")
        ? "/dev/shm/sensorloop-\(name)-\(UUID().uuidString)" : temporaryPath(name)
    }
    let temperaturePath = scratchPath("simday-temp")
    let device = scratchPath("simday-watchdog")
    defer {
      try? FileManager.default.removeItem(atPath: temperaturePath)
      try? FileManager.default.removeItem(atPath: device)
    }
    // Reading k (at k periods) finds what the writer wrote half a period before; reading 0
    // finds this.
    #expect(FileManager.default.createFile(atPath: temperaturePath, contents: Data("47000\n".utf8)))
    let deviceFD = open(device, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    try #require(deviceFD >= 0)
    defer { close(deviceFD) }

    // Lines 0–6 as on sim.json; the harness numbers the input ports 0 (button), 1 (wind),
    // 2 (enc_a), 3 (enc_b).
    var h = FirmwareHarness(
      lines: [
        .output(initial: false),
        .input(.both, .pullUp, activeLow: true, debounce: .milliseconds(20)),
        .input(.rising, .pullUp, activeLow: true, debounce: .zero),
        .input(.both, .pullUp, activeLow: false, debounce: .zero),
        .input(.both, .pullUp, activeLow: false, debounce: .zero),
        .output(initial: false),
        .output(initial: false),
        .output(initial: false),
        .output(initial: false),
      ],
      names: [
        "heartbeat", "button", "wind", "soc_temp", "knob", "fan", "dimmer", "tick", "watchdog", "relay",
        "fan_speed", "fan_curve",
      ] + DaySensors.names)
    let start = FirmwareHarness.start
    let ns = start.nanoseconds
    let every = Duration(nanoseconds: period)
    // A megabyte of pipe: the test reads it once a virtual minute.
    _ = fcntl(h.outputPipe.write.rawValue, 1031 /* F_SETPIPE_SZ */, 1 << 20)
    var steps = PatternSteps(repeating: .zero)
    for (k, tenths) in [1, 1, 1, 7].enumerated() {
      steps[k] = Duration(nanoseconds: period / 10 * Int64(tenths))
    }
    var values = InlineArray<16, Int64>(repeating: 0)
    for (k, value) in Self.temperatures.enumerated() { values[k] = value }
    try h.spawn(
      .heartbeat(Heartbeat(index: 0, line: 0, pattern: BlinkPattern(steps, count: 4, start: start)!)))
    try h.spawn(.button(Button(index: 1, line: 1, longPress: .seconds(1))))
    try h.spawn(
      .pulseCounter(
        PulseCounter(index: 2, line: 2, window: every, scale: 2.4, unit: ShortName("km/h"), start: start)))
    try h.spawn(
      .sampler(
        Sampler(
          index: 3, path: FilePath(text: temperaturePath), period: every, scale: 0.001, offset: 0,
          unit: ShortName("C"), start: start)))
    try h.spawn(.encoder(Encoder(index: 4, lineA: 3, lineB: 4, stepsPerDetent: 4, a: true, b: true)))
    try h.spawn(.threshold(ThresholdSwitch(index: 5, source: 3, line: 5, onAbove: 55, offBelow: 50)))
    try h.spawn(
      .pwm(SoftwarePWM(index: 6, line: 6, period: profile.pwmPeriod, dutyPercent: 25, start: start)))
    try h.spawn(.ticker(TickerTask(index: 7, period: every, start: start)))
    // The rules that drive outputs: the button toggles a relay (line 7); the temperature sets a
    // fan's duty (line 8) through sim.json's fan curve.
    try h.spawn(.outputSwitch(OutputSwitch(index: 9, line: 7, source: .task(1), toggles: true)))
    try h.spawn(
      .pwm(SoftwarePWM(index: 10, line: 8, period: profile.pwmPeriod, dutyPercent: 100, start: start)))
    var points = (
      readings: InlineArray<8, Double>(repeating: 0), duties: InlineArray<8, Double>(repeating: 0)
    )
    for (k, point) in [(45.0, 20.0), (50, 40), (58, 100)].enumerated() {
      points.readings[k] = point.0
      points.duties[k] = point.1
    }
    let fanCurve = try #require(DutyCurve(readings: points.readings, duties: points.duties, count: 3))
    try h.spawn(
      .curve(
        CurveRule(
          index: 11, source: 3, pwm: 10, follower: CurveFollower(curve: fanCurve, hysteresis: 2, minChange: 5)
        )))
    // The watchdog watches the tasks with periodic work (as the program does): an idle button,
    // knob, threshold, switch or curve has no deadline of its own to be late for.
    let watched: UInt64 = 1 << 0 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 7 | 1 << 10 | 1 << 12 | 1 << 13 | 1 << 14
    try h.spawn(
      .watchdog(
        Watchdog(index: 8, device: deviceFD, kick: every, stall: every * 5, watched: watched, start: start)))
    try h.spawn(
      .simFile(
        SimFileWriter(
          path: FilePath(text: temperaturePath), values: values, count: Self.temperatures.count,
          repeats: true,
          start: start + Duration(nanoseconds: period / 2), every: every)))
    // The sensors (a reading every 5 periods), filters, rules and hardware PWM channels.
    let fake = FakeSysfs(
      in: FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    try DaySensors.spawn(&h, fake, period: 5 * period, start: start)
    var sensors = DaySensors(period: 5 * period)

    var script = DayScript()
    /// Schedules the stimuli of minute `m` (presses, turns; at an hour's start its pulses).
    func schedule(minute m: Int64, _ h: inout FirmwareHarness, _ script: inout DayScript) throws {
      let minuteStart = m * 60 * Self.second
      if m % 60 == 0 {
        var trains = [
          PulseTrain(start: minuteStart, hz: profile.gustHz, count: profile.gustHz * profile.gustSeconds)
        ]
        if profile.breezeHz > 0 {
          let from = profile.gustSeconds + 1
          trains.append(
            PulseTrain(
              start: minuteStart + from * Self.second, hz: profile.breezeHz,
              count: profile.breezeHz * (3599 - from)))
        }
        for train in trains where train.count > 0 {
          script.pulses.append(train)
          try h.stimulate(
            .pulses(
              port: 1, start: start + Duration(nanoseconds: train.start), hertz: train.hz, dutyPercent: 50,
              count: train.count))
        }
      }
      for offset in stride(from: Int64(0), to: 60, by: 1) {
        let second = m * 60 + offset
        if second >= 7 && (second - 7) % profile.pressEvery == 0 {
          let down = second * Self.second
          let long = script.presses.count % 10 == 9
          let up = down + (long ? 1500 : 150) * 1_000_000
          script.presses.append((down, up, long))
          for (time, high) in [(down, false), (up, true)] {
            try h.stimulate(
              .bounce(
                port: 0, start: start + Duration(nanoseconds: time), high: high, bounces: 2,
                spacing: .microseconds(200)))
          }
        }
        if second >= 13 && (second - 13) % profile.turnEvery == 0 {
          let clockwise = script.turns.count % 2 == 0
          script.turns.append((second * Self.second, clockwise))
          try h.stimulate(
            .quadrature(
              a: 2, b: 3, start: start + .seconds(second), stepsPerSecond: 1000, steps: clockwise ? 48 : -48))
        }
      }
    }

    var book = DayBook()
    var pending: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    /// Reads the pipe and checks each record against the stimuli and the grids.
    func drain(_ h: inout FirmwareHarness, _ book: inout DayBook, _ script: inout DayScript) {
      while true {
        let n = buffer.withUnsafeMutableBytes { read(h.outputPipe.read.rawValue, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        pending.append(contentsOf: buffer[0..<n])
      }
      var lineStart = pending.startIndex
      while let newline = pending[lineStart...].firstIndex(of: 0x0A) {
        defer { lineStart = newline + 1 }
        guard let record = FastRecord(pending[lineStart..<newline]) else {
          book.problem("not a record: \(String(decoding: pending[lineStart..<newline], as: UTF8.self))")
          continue
        }
        book.records += 1
        let t = record.time - ns
        switch (record.task, record.event) {
        case ("tick", "tick"):
          book.ticks += 1
          if t != book.ticks * period || record.numbers["n"] != book.ticks || record.numbers["late_ns"] != 0 {
            book.problem("tick \(book.ticks) at \(t)")
          }
        case ("wind", "reading"):
          book.windows += 1
          let end = book.windows * period
          let expected = script.pulses(before: end) - script.pulses(before: end - period)
          let count = record.numbers["count"] ?? -1
          book.pulsesCounted += count
          if t != end || count != expected {
            book.problem("wind window \(book.windows) at \(t): \(count), expected \(expected)")
          }
        case ("soc_temp", "reading"):
          let k = book.readings
          book.readings += 1
          let raw = k == 0 ? 47000 : Self.temperatures[Int((k - 1) % 10)]
          if t != k * period || record.decimals["value"] != Double(raw) / 1000 {
            book.problem("reading \(k) at \(t): \(record.decimals["value"] ?? -1)")
          }
        case ("relay", let event):
          // Off at the start, then one toggle at each press.
          if book.relayRecords == 0 {
            if t != 0 || event != "off" { book.problem("relay starts \(event) at \(t)") }
          } else {
            // Its press record came first; the release (which moves `nextPress` on) comes later.
            let press = script.presses[min(script.nextPress, script.presses.count - 1)]
            let expected = book.relayRecords % 2 == 1 ? "on" : "off"
            if event != expected || t < press.down || t > press.down + 50_000_000 {
              book.problem("relay \(event) at \(t), expected \(expected) at the press at \(press.down)")
            }
          }
          book.relayRecords += 1
        case ("fan_curve", "duty"):
          // Reading k (the sampler's) on sim.json's curve, hysteresis 2 °C, steps under 5 % skipped.
          let k = t / period
          let expected: Double? = k == 0 ? 28 : Self.fanDuties[Int((k - 1) % 10)]
          if t % period != 0 || k == 1 || record.decimals["duty_percent"] != expected {
            book.problem(
              "fan curve \(record.decimals["duty_percent"] ?? -1) at \(t), expected \(expected ?? -1)")
          }
          book.fanDuties += 1
        case ("fan", let event):
          // On at the first reading above 55 °C (57000: k ≡ 5 mod 10), off below 50 (k ≡ 9).
          book.fanSwitches += 1
          let expected: Int64 = event == "on" ? 5 : 9
          if t % period != 0 || (t / period) % 10 != expected { book.problem("fan \(event) at \(t)") }
        case ("button", let event):
          guard script.nextPress < script.presses.count else {
            book.problem("button \(event) at \(t): no press scheduled")
            break
          }
          let press = script.presses[script.nextPress]
          switch event {
          case "press":
            book.presses += 1
            if t != press.down { book.problem("press at \(t), expected \(press.down)") }
          case "long_press":
            book.longPresses += 1
            if !press.long || t != press.down + Self.second { book.problem("long press at \(t)") }
          case "release":
            book.releases += 1
            let held = record.numbers["held_ms"] ?? -1
            if t != press.up || held != (press.up - press.down) / 1_000_000 {
              book.problem("release at \(t) held \(held)")
            }
            script.nextPress += 1
          default:
            book.problem("button \(event)")
          }
        case ("knob", "step"):
          let delta = record.numbers["delta"] ?? 0
          book.steps += abs(delta) * 4
          book.position += delta
          if abs(delta) != 1 || record.numbers["position"] != book.position {
            book.problem("knob step \(delta) to \(record.numbers["position"] ?? -99) at \(t)")
          }
        case _ where sensors.check(record, at: t, &book):
          break
        default:
          book.problem("unexpected record \(record.task) \(record.event) at \(t)")
        }
      }
      pending.removeSubrange(pending.startIndex..<lineStart)
      // As epoll would on a real board: the pipe has room again.
      h.firmware.executor.raise(FirmwareInterrupt.outputWritable)
    }

    try schedule(minute: 0, &h, &script)
    // A script due after the day keeps the stimulus task alive through quiet minutes (the
    // button already rests high: it would be no edge).
    try h.stimulate(.level(port: 0, at: start + .seconds(profile.hours * 3600 + 3600), high: true))
    try h.spawn(.stimuli(StimulusTask()))
    // The stimulus task sleeps until the next transition it knows of: after adding scripts,
    // it is woken to look again.
    let stimulusTask = try #require(
      (0..<FirmwareLimits.tasks + FirmwareLimits.systemTasks).lazy.compactMap { slot -> Waker? in
        guard let waker = h.firmware.executor.waker(slot: slot),
          case .stimuli = h.firmware.executor.task(waker)
        else { return nil }
        return waker
      }.first)
    var allocations: UInt64 = 0
    let minutes = profile.hours * 60
    for m in 0..<minutes {
      try schedule(minute: m + 1, &h, &script)  // a minute ahead: the stimulus task never runs dry
      h.firmware.executor.wake(stimulusTask)
      try h.spawn(.stopTimer(StopTimer(deadline: start + .seconds((m + 1) * 60))))
      h.firmware.world.control = ControlRequests()
      let before = sl_alloc_count_thread()
      _ = h.firmware.runUntilRequest()
      let after = sl_alloc_count_thread()
      // The first minute is the warm-up (first polls, the runtime's type metadata).
      if m > 0 { allocations += after &- before }
      // Records made in the minute's last turn still wait in the ring, as at a real stop.
      while case .wrote(let n) = OutputWriter.drainOnce(&h.firmware.world), n > 0 {}
      drain(&h, &book, &script)
      if (m + 1) % 60 == 0 || m + 1 == minutes {
        let hour = (m + 1) / 60
        let now = (m + 1) * 60 * Self.second
        #expect(book.problems.isEmpty, "hour \(hour): \(book.problems)")
        checkInvariants(&h, profile: profile, hour: hour, allocations: allocations)
        // Stimuli in == records out, so far.
        #expect(book.pulsesCounted == script.pulses(before: now), "hour \(hour): pulses")
        let periods = now / period
        #expect(book.ticks == periods && book.windows == periods && book.readings == periods + 1)
        let pressesIn = script.presses.filter { $0.up < now }
        #expect(book.presses == pressesIn.count && book.releases == pressesIn.count, "hour \(hour): presses")
        #expect(book.longPresses == pressesIn.filter(\.long).count)
        let turnsIn = script.turns.filter { $0.start < now }
        #expect(book.steps == 48 * Int64(turnsIn.count), "hour \(hour): steps in == detents × 4")
        #expect(book.position == (turnsIn.count % 2 == 1 ? 12 : 0))
        #expect(book.fanSwitches == Int(periods / 10) * 2, "hour \(hour): fan")
        // The relay's initial state, then a toggle per press; 8 duties per 10 readings, but not
        // at the first 45 °C (reading 1, after 47 °C: within the hysteresis).
        let pressesDown = script.presses.filter { $0.down < now }.count
        #expect(book.relayRecords == 1 + pressesDown, "hour \(hour): relay")
        // (A duty set by the reading at `now` is written in the next minute.)
        var duties = 0
        for k in 0..<periods where k == 0 || (k > 1 && Self.fanDuties[Int((k - 1) % 10)] != nil) {
          duties += 1
        }
        #expect(book.fanDuties == duties, "hour \(hour): fan curve")
        sensors.checkCounts(now: now, hour: hour, fake)
        if !book.problems.isEmpty { break }
      }
    }

    // The watchdog kicked every period and never saw a stall.
    let kicks = (try? FileManager.default.attributesOfItem(atPath: device)[.size] as? Int) ?? -1
    #expect(kicks == Int(minutes * 60 / profile.period) + 1)
    let counters = (0..<19).map { h.firmware.world.counters[$0] }
    #expect(UInt64(book.records) == counters.reduce(0) { $0 + $1.records })
    let took = Date().timeIntervalSince(wall)
    let levelChanges = (0..<4).map { h.firmware.world.stimuli.counters($0).transitions }.reduce(0, +)
    let edges = (1...4).compactMap { h.firmware.world.inputCounters($0)?.counters.edges }.reduce(0, +)
    print(
      """
      simulated day (\(profile)): \(String(format: "%.1f", took)) s of real time
        records \(book.records): ticks \(book.ticks), pulse windows \(book.windows) with \(book.pulsesCounted) \
      pulses, presses \(book.presses) (\(book.longPresses) long), encoder steps \(book.steps) \
      (\(book.steps / 4) detents), sampler readings \(book.readings), fan switches \(book.fanSwitches), relay records \
      \(book.relayRecords), fan curve duties \(book.fanDuties); \
      watchdog kicks \(kicks)
        sensors: cpu readings \(sensors.cpuReadings) (hw_curve duties \(sensors.curveDuties), fan_hw duties \(sensors.fanDuties), \
      hot switches \(sensors.hotSwitches), beeper duties \(sensors.beeperDuties)), tank readings \(sensors.tankReadings) \
      and repeats \(sensors.tankRepeats), air readings \(sensors.airReadings) (\(sensors.airTemperatures) with a temperature)
        level changes driven \(levelChanges), edges read \(edges), stimulus deliveries \
      \(h.firmware.world.stimuli.deliveries), heap allocations after the first minute \(allocations)
      """)
  }

  /// Every hour: nothing lost, dropped, missed or leaked.
  func checkInvariants(_ h: inout FirmwareHarness, profile: DayProfile, hour: Int64, allocations: UInt64) {
    for line in 1...4 {
      guard let input = h.firmware.world.inputCounters(line) else {
        Issue.record("line \(line) is not an input")
        continue
      }
      let counters = input.counters
      #expect(
        counters.lost == 0 && counters.overflowed == 0 && counters.readErrors == 0,
        "hour \(hour): line \(line) \(counters)")
    }
    for index in 0..<4 {
      let port = h.firmware.world.stimuli.counters(index)
      #expect(port.kernelDropped == 0 && port.writeErrors == 0, "hour \(hour): port \(index) \(port)")
    }
    for task in 0..<19 {
      let counters = h.firmware.world.counters[task]
      #expect(
        counters.missedTicks == 0 && counters.dropped == 0 && counters.errors == 0,
        "hour \(hour): task \(task) \(counters)")
    }
    let dropped = h.firmware.world.output.dropped + h.firmware.world.output.truncated
    #expect(dropped == 0 && h.firmware.world.outputLoss.records == 0)
    // The outputs' changes this hour (their ports hold the first 4,096) are on their grids: the
    // heartbeat's 1/1/1/7 tenths of a period, the dimmer's PWM period with 25 % on.
    let tenth = profile.period * 100
    for change in h.outputHistory(0) where change.ms > 0 {
      let phase = change.ms % (10 * tenth) / tenth
      #expect(change.ms % tenth == 0 && phase < 4 && change.value == (phase % 2 == 0), "heartbeat \(change)")
    }
    let pwm = profile.pwmPeriod.nanoseconds / 1_000_000
    for change in h.outputHistory(6) where change.ms > 0 {
      let phase = change.ms % pwm
      #expect((phase == 0 && change.value) || (phase == pwm / 4 && !change.value), "dimmer \(change)")
    }
    // The relay's line: on and off in turn (one change per press).
    let relay = h.outputHistory(7).filter { $0.ms > 0 }
    for (before, after) in zip(relay, relay.dropFirst()) where before.value == after.value {
      Issue.record("hour \(hour): relay \(before) then \(after)")
    }
    // Writer, stimuli, three sim files and the nineteen tasks; every stop timer has finished.
    #expect(h.firmware.executor.liveTasks == 24, "hour \(hour)")
    // Deadlines held between minutes: heartbeat, wind, soc_temp, dimmer, tick, watchdog,
    // fan_speed, cpu, tank, air, stimuli, three sim files (the button, knob, fan, relay, the
    // curves, hot, the pwm_hw tasks and writer wait for input only).
    #expect(h.firmware.executor.armedTimers == 14, "hour \(hour)")
    #expect(h.firmware.executor.counters.staleWakes == 0)
    #expect(allocations == 0, "hour \(hour): heap allocations in the loop")
  }
}

/// The day's sensors, filters, rules and hardware PWM, on a fake sysfs tree (in /dev/shm when
/// there is one): a hwmon `cpu_thermal` whose temperature a file writer cycles 40 → 70 → 40 °C
/// sets a `pwm_hw` fan through a curve and a `pwm_hw` beeper through a threshold; a DS18B20
/// with a spike and a step in a flat cycle through median, delta and heartbeat; a BME280 whose
/// three values go through average and throttle, exponential and clamp, and calibrate. With no
/// worker in the world (as in every virtual-time test) the sensors read on the loop thread at
/// their tick, so every record's time and value is known in advance.
struct DaySensors {
  /// Task indices, after the board's twelve.
  static let cpu = 12, tank = 13, air = 14, curve = 15, fan = 16, hot = 17, beeper = 18
  static let names = ["cpu", "tank", "air", "hw_curve", "fan_hw", "hot", "beeper"]
  /// The hwmon temperature cycle (millidegrees), one value a sensor period; reading 0 finds
  /// `cpuFirst`.
  static let cpuCycle: [Int64] = [40000, 50000, 60000, 70000, 60000, 50000]
  static let cpuFirst: Int64 = 50000
  /// The DS18B20's cycle: flat at 20.0/20.1 °C, a one-sample spike to 35 °C (the median
  /// removes it), a two-sample step to 22 °C (it passes, and back); reading 0 finds 21 °C.
  static let tankCycle: [Int64] = [
    20000, 20000, 20100, 20000, 35000, 20100, 20000, 20000, 20100, 20000, 20000, 20000, 20100, 20000, 22000,
    22000,
  ]

  /// The sensors' period, and the filters' intervals in periods.
  let period: Int64
  var throttle: Int64 { 6 * period }
  var heartbeat: Int64 { 12 * period }

  var cpuReadings: Int64 = 0
  var curveDuties: Int64 = 0
  var fanDuties: Int64 = 0
  var hotSwitches: Int64 = 0
  var beeperDuties: Int64 = 0
  var tankReadings: Int64 = 0
  var tankRepeats: Int64 = 0
  var tankLast: (t: Int64, value: Double)? = nil
  var airReadings: Int64 = 0
  var airTemperatures: Int64 = 0

  /// The cpu reading `k` in °C.
  static func cpuValue(_ k: Int64) -> Double {
    Double(k == 0 ? cpuFirst : cpuCycle[Int((k - 1) % Int64(cpuCycle.count))]) / 1000
  }

  /// The curve's duty at `celsius`: 40 °C 0 %, 80 °C 100 %.
  static func curveDuty(_ celsius: Double) -> Double { (celsius - 40) * 2.5 }

  /// Builds the tree under `fake`, the file writers that move its values, the tasks.
  static func spawn(
    _ h: inout FirmwareHarness, _ fake: FakeSysfs, period: Int64, start: Instant
  ) throws {
    let every = Duration(nanoseconds: period)
    fake.file("class/hwmon/hwmon0/name", "cpu_thermal\n")
    fake.file("class/hwmon/hwmon0/temp1_input", "\(cpuFirst)\n")
    fake.w1([(id: "28-00000a000001", milliC: 21000)])
    let bme = "bus/iio/devices/iio:device0/"
    fake.file(bme + "name", "bme280\n")
    fake.file(bme + "in_temp_input", "21370\n")
    fake.file(bme + "in_humidityrelative_input", "75000\n")
    fake.file(bme + "in_pressure_input", "100.768554687\n")
    fakePWMChip(fake, 0, npwm: 2, driver: "pwm-bcm2835", compatible: "brcm,bcm2835-pwm", exported: [0, 1])

    for (path, cycle) in [
      ("class/hwmon/hwmon0/temp1_input", cpuCycle), ("bus/w1/devices/28-00000a000001/temperature", tankCycle),
    ] {
      var values = InlineArray<16, Int64>(repeating: 0)
      for (k, value) in cycle.enumerated() { values[k] = value }
      try h.spawn(
        .simFile(
          SimFileWriter(
            path: FilePath(text: fake.root + "/" + path), values: values, count: cycle.count, repeats: true,
            start: start + Duration(nanoseconds: period / 2), every: every)))
    }

    func chain(_ specs: [FilterSpec]) throws -> FilterChain {
      var inline = InlineArray<6, FilterSpec>(repeating: .clamp(low: 0, high: 0))
      for (k, spec) in specs.enumerated() { inline[k] = spec }
      return try FilterChain(inline, count: specs.count)
    }
    let cpu = try SensorResolver.hwmon(
      root: fake.path, device: ShortName("cpu_thermal"), inputs: SensorNames(["temp1_input"]))
    var tankFilters = SensorFilters()
    tankFilters.set(
      try chain([
        .median(window: 3), .delta(minimum: 0.5), .heartbeat(interval: .nanoseconds(12 * period)),
      ]), channel: 0)
    let tank = try SensorResolver.ds18b20(root: fake.path, id: ShortName("28-00000a000001"))
    var airFilters = SensorFilters()
    airFilters.set(
      try chain([.average(window: 4), .throttle(interval: .nanoseconds(6 * period))]), channel: 0)
    airFilters.set(try chain([.exponential(alpha: 0.5), .clamp(low: 0, high: 60)]), channel: 1)
    airFilters.set(
      try chain([.calibrate(measured1: 100, actual1: 100.5, measured2: 110, actual2: 110.5)]), channel: 2)
    let air = try SensorResolver.iio(
      root: fake.path, device: ShortName("bme280"),
      channels: SensorNames(["in_temp", "in_humidityrelative", "in_pressure"]))
    for (index, source, filters) in [
      (Self.cpu, cpu, SensorFilters()), (Self.tank, tank, tankFilters), (Self.air, air, airFilters),
    ] {
      let added = h.firmware.world.addSensor(
        SensorTask(index: index, source: source, filters: filters, period: every, start: start))
      let slot = try #require(added)
      try h.spawn(.sensor(slot))
    }

    var readings = InlineArray<8, Double>(repeating: 0)
    var duties = InlineArray<8, Double>(repeating: 0)
    (readings[0], duties[0], readings[1], duties[1]) = (40, 0, 80, 100)
    let curve = try #require(DutyCurve(readings: readings, duties: duties, count: 2))
    try h.spawn(
      .curve(
        CurveRule(index: Self.curve, source: Self.cpu, pwm: Self.fan, follower: CurveFollower(curve: curve))))
    try h.spawn(
      .threshold(
        ThresholdSwitch(
          index: Self.hot, source: Self.cpu, target: .duty(pwm: Self.beeper, on: 50, off: 0), onAbove: 65,
          offBelow: 55)))
    // The fan set up at full speed (the curve's first duty replaces it at once); the beeper
    // (2 kHz) silent.
    for (index, channel, periodUs, duty) in [(Self.fan, 0, 40, 40_000), (Self.beeper, 1, 500, 0)] {
      let pwm = try HardwarePWM(
        root: fake.path, chip: .only, channel: channel, period: .microseconds(Int64(periodUs)),
        duty: .nanoseconds(Int64(duty)))
      let added = h.firmware.world.addPWMChannel(PWMChannel(pwm, task: index, at: start))
      let slot = try #require(added)
      try h.spawn(.pwmHardware(HardwarePWMTask(index: index, slot: slot)))
    }
  }

  /// Checks one record of these tasks (`t` ns after the start); false when it is not theirs.
  mutating func check(_ record: FastRecord, at t: Int64, _ book: inout DayBook) -> Bool {
    let k = t / period
    let onGrid = t % period == 0
    switch (record.task, record.event) {
    case ("cpu", "reading"):
      if !onGrid || k != cpuReadings || record.decimals["value"] != Self.cpuValue(k) {
        book.problem(
          "cpu reading \(record.decimals["value"] ?? -1) at \(t), expected \(Self.cpuValue(cpuReadings))")
      }
      cpuReadings += 1
    case ("hw_curve", "duty"):
      // Every reading moves the duty (neighbours in the cycle differ).
      if !onGrid || k != curveDuties || record.decimals["duty_percent"] != Self.curveDuty(Self.cpuValue(k)) {
        book.problem("hw_curve \(record.decimals["duty_percent"] ?? -1) at \(t)")
      }
      curveDuties += 1
    case ("fan_hw", "duty"):
      // The curve's duty from each reading, written in the reading's turn; the first poll
      // comes after the curve's first duty (same turn), so the 100 % it was set up with is
      // never reported.
      if !onGrid || k != fanDuties || record.decimals["duty_percent"] != Self.curveDuty(Self.cpuValue(k))
        || record.numbers["period_ns"] != 40_000
      {
        book.problem("fan_hw \(record.decimals["duty_percent"] ?? -1) at \(t)")
      }
      fanDuties += 1
    case ("hot", let event):
      // On at 70 °C (k ≡ 4 mod 6), off at 50 °C after it (k ≡ 0 mod 6): duty 50 %, then 0 %.
      let on = event == "on"
      if !onGrid || k % 6 != (on ? 4 : 0) || (event != "on" && event != "off")
        || record.decimals["duty_percent"] != (on ? 50 : 0)
      {
        book.problem("hot \(event) at \(t)")
      }
      hotSwitches += 1
    case ("beeper", "duty"):
      // 0 % at start, then each of the threshold's duties.
      let expected: Double = beeperDuties % 2 == 1 ? 50 : 0
      let at: Int64 = beeperDuties == 0 ? 0 : (beeperDuties % 2 == 1 ? 4 : 0)
      if !onGrid || k % 6 != at || (beeperDuties == 0 && t != 0)
        || record.decimals["duty_percent"] != expected
        || record.numbers["period_ns"] != 500_000
      {
        book.problem("beeper \(record.decimals["duty_percent"] ?? -1) at \(t)")
      }
      beeperDuties += 1
    case ("tank", "reading"):
      // Median of 3, a change of 0.5 °C at least, the last value repeated after 12 quiet
      // periods: never the spike, no small step, never quiet longer than the heartbeat.
      guard let value = record.decimals["value"] else {
        book.problem("tank reading without a value at \(t)")
        break
      }
      let repeated = record.flags.contains("repeat")
      if value >= 30 { book.problem("tank spike \(value) at \(t)") }
      if let last = tankLast {
        if t - last.t > heartbeat || t < last.t { book.problem("tank quiet from \(last.t) to \(t)") }
        if repeated ? value != last.value : abs(value - last.value) < 0.5 {
          book.problem("tank \(value) after \(last.value) at \(t)\(repeated ? " (repeat)" : "")")
        }
      }
      if repeated { tankRepeats += 1 } else { tankReadings += 1 }
      if !repeated && !onGrid { book.problem("tank reading off its grid at \(t)") }
      tankLast = (t, value)
    case ("air", "reading"):
      // Every period: humidity 75 %RH clamped to 60, pressure calibrated by +0.5 kPa; the
      // temperature (averaged) once every 6 periods (the throttle).
      let temperature = record.decimals["temperature"]
      if !onGrid || k != airReadings || record.decimals["humidity"] != 60
        || record.decimals["pressure"] != 101.269
        || (k % 6 == 0 ? temperature != 21.37 : temperature != nil)
      {
        book.problem("air at \(t): \(record.decimals)")
      }
      if temperature != nil { airTemperatures += 1 }
      airReadings += 1
    default:
      return false
    }
    return true
  }

  /// Checks the counts up to `now` (ns after the start): every reading made and its rules'
  /// records written, the hardware channels where the last duties put them.
  func checkCounts(now: Int64, hour: Int64, _ fake: FakeSysfs) {
    // Readings 0 to the one at `now`; the rules have taken those before it (the one at `now`
    // wakes them in the next minute, as the board's curve).
    let readings = now / period + 1
    #expect(cpuReadings == readings && airReadings == readings, "hour \(hour): readings")
    #expect(airTemperatures == (readings - 1) / 6 + 1, "hour \(hour): air temperatures")
    let taken = readings - 1
    #expect(curveDuties == taken && fanDuties == taken, "hour \(hour): cpu")
    let ons = taken > 4 ? (taken - 5) / 6 + 1 : 0
    let offs = taken > 6 ? (taken - 7) / 6 + 1 : 0
    #expect(hotSwitches == ons + offs && beeperDuties == 1 + ons + offs, "hour \(hour): hot")
    #expect(tankReadings > 0 && tankRepeats > 0 && tankRepeats < readings / 12, "hour \(hour): tank")
    let last = taken - 1
    let fanNs = Int64((Self.curveDuty(Self.cpuValue(last)) * 400).rounded())
    #expect(fake.read("class/pwm/pwmchip0/pwm0/duty_cycle") == "\(fanNs)", "hour \(hour): fan duty_cycle")
    let beeping = ons > offs
    #expect(
      fake.read("class/pwm/pwmchip0/pwm1/duty_cycle") == (beeping ? "250000" : "0"), "hour \(hour): beeper")
  }
}
