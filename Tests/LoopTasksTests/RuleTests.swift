// The rules that drive outputs, on a virtual clock with scripted mock inputs: a switch toggled
// by a button's presses or following a button or an input line, what it drives (the mock
// output's recorded changes) and reports, exactly; and no heap in the steady state.

import AllocCounter
import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import Testing

private typealias H = FirmwareHarness

/// Milliseconds after the harness start of a record.
private func ms(_ record: Record) -> Int64 { (record.time - H.start.nanoseconds) / 1_000_000 }

/// A button on line 0 (active high, no debounce) and a relay on line 1; task 0 is the button.
private func buttonAndRelay() -> H {
  H(
    lines: [.input(.both, .disabled, activeLow: false, debounce: .zero), .output(initial: false)],
    names: ["button", "relay"])
}

/// Presses of line 0 (port 0): down at each time, up `hold` ms later.
private func press(_ h: inout H, at times: [Int64], hold: Int64 = 150) throws {
  for t in times {
    try h.stimulate(.level(port: 0, at: H.at(t), high: true))
    try h.stimulate(.level(port: 0, at: H.at(t + hold), high: false))
  }
}

@Suite struct SwitchTaskTests {
  @Test func buttonPressesToggleARelay() throws {
    var h = buttonAndRelay()
    try press(&h, at: [100, 1000, 2000])
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: true)))
    let records = try h.run(until: 3000).filter { $0.task == "relay" }
    // The state it starts in, then one change per press (releases change nothing).
    #expect(records.map(\.event) == ["off", "on", "off", "on"])
    #expect(records.map(ms) == [0, 100, 1000, 2000])
    #expect(records[0].fields["initial"] as? Bool == true)
    #expect(records[1].fields["initial"] == nil)
    let history = h.outputHistory(1)
    #expect(history.map(\.ms) == [0, 100, 1000, 2000])
    #expect(history.map(\.value) == [false, true, false, true])
    #expect(h.firmware.world.counters[1].errors == 0)
  }

  @Test func aFollowerTracksTheButtonsHeldStateInverted() throws {
    var h = buttonAndRelay()
    try press(&h, at: [100, 1000], hold: 300)
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(
      .outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: false, invert: true)))
    let records = try h.run(until: 2000).filter { $0.task == "relay" }
    // Up at the start: inverted, on.
    #expect(records.map(\.event) == ["on", "off", "on", "off", "on"])
    #expect(records.map(ms) == [0, 100, 400, 1000, 1300])
    #expect(h.outputHistory(1).map(\.value) == [false, true, false, true, false, true])
  }

  @Test func aSwitchFollowsOrTogglesOnAnInputLine() throws {
    // A motion sensor's line followed by a lamp; a second line toggles a relay on rising edges.
    var h = H(
      lines: [
        .input(.both, .disabled, activeLow: false, debounce: .zero), .output(initial: false),
        .input(.rising, .disabled, activeLow: false, debounce: .zero), .output(initial: true),
      ], names: ["lamp", "relay"])
    try h.stimulate(.level(port: 0, at: H.at(200), high: true))
    try h.stimulate(.level(port: 0, at: H.at(700), high: false))
    try h.stimulate(.pulses(port: 1, start: H.at(100), hertz: 10, dutyPercent: 50, count: 3))
    try h.spawn(.outputSwitch(OutputSwitch(index: 0, line: 1, source: .line(0), toggles: false)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 3, source: .line(2), toggles: true)))
    let records = try h.run(until: 1000)
    let lamp = records.filter { $0.task == "lamp" }
    #expect(lamp.map(\.event) == ["off", "on", "off"])
    #expect(lamp.map(ms) == [0, 200, 700])
    #expect(h.outputHistory(1).map(\.value) == [false, true, false])
    // The relay starts on (its line's initial value); pulses rise at 100, 200 and 300 ms.
    let relay = records.filter { $0.task == "relay" }
    #expect(relay.map(\.event) == ["on", "off", "on", "off"])
    #expect(relay.map(ms) == [0, 100, 200, 300])
    #expect(h.outputHistory(3).map(\.value) == [true, false, true, false])
  }

  @Test func pressesTheSwitchSeesTogetherCountAsMany() throws {
    // Two presses the button reports in one poll (edges queued while the loop was away: the
    // clock jumps past them before anything runs): the relay flips twice, back where it was,
    // and says so.
    var h = buttonAndRelay()
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: true)))
    _ = try h.run(until: 10)
    try press(&h, at: [20, 30], hold: 5)
    h.firmware.executor.platform.advance(by: .milliseconds(40))
    let records = try h.run(until: 100).filter { $0.task == "relay" }
    #expect(records.map(\.event) == ["off", "off"])
    #expect(records.last?.int("presses") == 2)
    #expect(h.outputHistory(1).map(\.value) == [false])
  }

  @Test func fiveSteadyMinutesOfPressesAllocateNothing() throws {
    var h = buttonAndRelay()
    try h.stimulate(.pulses(port: 0, start: H.at(100), hertz: 1, dutyPercent: 20, count: 400))
    // A 1 MiB pipe holds the run's records unread: a full one makes the writer's write throw
    // EAGAIN, and swift-testing's hook on thrown errors allocates a backtrace (seen once records
    // carried wall_ns); the program itself allocates nothing there.
    _ = fcntl(h.outputPipe.write.rawValue, 1031 /* F_SETPIPE_SZ */, 1 << 20)
    try h.spawn(.button(Button(index: 0, line: 0, longPress: nil)))
    try h.spawn(.outputSwitch(OutputSwitch(index: 1, line: 1, source: .task(0), toggles: true)))
    _ = try h.run(until: 60_000)
    // Five minutes more: the records (three a press) fit the ring and the pipe unread.
    try h.spawn(.stopTimer(StopTimer(deadline: H.at(360_000))))
    h.firmware.world.control = ControlRequests()
    let before = sl_alloc_count_thread()
    _ = h.firmware.runUntilRequest()
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    _ = h.readRecords()
    // A press a second: 360 toggles and the initial state, nothing dropped.
    let counters = h.firmware.world.counters[1]
    #expect(counters.records == 361)
    #expect(counters.dropped == 0 && counters.errors == 0)
    #expect(h.outputHistory(1).count == 361)
  }
}

/// A curve from `points` ([reading, duty]).
private func curve(_ points: [(Double, Double)]) -> DutyCurve {
  var readings = InlineArray<8, Double>(repeating: 0)
  var duties = InlineArray<8, Double>(repeating: 0)
  for (k, point) in points.enumerated() {
    readings[k] = point.0
    duties[k] = point.1
  }
  return DutyCurve(readings: readings, duties: duties, count: points.count)!
}

@Suite struct CurveLogicTests {
  @Test func aCurveInterpolatesBetweenPointsAndClampsItsEnds() {
    let fan = curve([(40, 0), (50, 30), (70, 100)])
    #expect(fan.duty(at: -10) == 0)
    #expect(fan.duty(at: 40) == 0)
    #expect(fan.duty(at: 45) == 15)
    #expect(fan.duty(at: 50) == 30)
    #expect(fan.duty(at: 60) == 65)
    #expect(fan.duty(at: 70) == 100)
    #expect(fan.duty(at: 1000) == 100)
    // A falling curve too (a backlight dimmed as the room gets darker is the other way round).
    #expect(curve([(0, 100), (100, 20)]).duty(at: 50) == 60)
  }

  @Test func aCurveRefusesWhatItCannotFollow() {
    var readings = InlineArray<8, Double>(repeating: 0)
    var duties = InlineArray<8, Double>(repeating: 0)
    readings[0] = 50
    readings[1] = 50
    #expect(DutyCurve(readings: readings, duties: duties, count: 2) == nil)  // not rising
    readings[1] = 60
    duties[1] = 101
    #expect(DutyCurve(readings: readings, duties: duties, count: 2) == nil)  // above 100 %
    duties[1] = 100
    #expect(DutyCurve(readings: readings, duties: duties, count: 1) == nil)  // one point
    #expect(DutyCurve(readings: readings, duties: duties, count: 2) != nil)
  }

  @Test func hysteresisHoldsTheDutyUntilTheReadingHasClearlyFallen() {
    var follower = CurveFollower(curve: curve([(40, 0), (60, 100)]), hysteresis: 2)
    #expect(follower.feed(50) == 50)  // the first reading sets the duty
    #expect(follower.feed(55) == 75)  // rising: at once
    #expect(follower.feed(54) == nil)  // within 2 below the highest: held
    #expect(follower.feed(53) == nil)
    #expect(follower.feed(52.5) == 72.5)  // 2.5 below 55: read at 54.5
    #expect(follower.feed(53) == nil)  // back up inside the band
    #expect(follower.feed(56) == 80)
    #expect(follower.feed(30) == 0)  // clamped at the end
  }

  @Test func aMinimumChangeSkipsSmallStepsButReachesTheEnds() {
    var follower = CurveFollower(curve: curve([(40, 20), (60, 100)]), minChange: 10)
    #expect(follower.feed(45) == 40)
    #expect(follower.feed(46) == nil)  // 44: 4 points
    #expect(follower.feed(48) == 52)  // 12 points from 40
    #expect(follower.feed(59) == 96)
    #expect(follower.feed(61) == 100)  // 4 points, but the end of the curve
    #expect(follower.feed(39) == 20)
    #expect(follower.feed(39.5) == nil)  // 22: 2 points
  }
}

/// A temporary file holding `contents`.
private func temporaryFile(_ contents: String) -> String {
  let path = NSTemporaryDirectory() + "sensorloop-rule-\(UUID().uuidString)"
  #expect(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8)))
  return path
}

/// Milliseconds the line was on in each `period`-long window from `from` to `to`, from its history.
private func onTimes(_ history: [(ms: Int64, value: Bool)], from: Int64, to: Int64, period: Int64) -> [Int64]
{
  var result: [Int64] = []
  var start = from
  while start < to {
    var on: Int64 = 0
    for t in start..<(start + period) {
      // The level at t: the last change at or before it.
      if history.last(where: { $0.ms <= t })?.value == true { on += 1 }
    }
    result.append(on)
    start += period
  }
  return result
}

@Suite struct CurveTaskTests {
  @Test func aSamplersFileValueDrivesAPWMDutyThroughTheCurve() throws {
    let path = temporaryFile("50000")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var h = H(lines: [.output(initial: false)], names: ["temp", "fan_curve", "fan"])
    // Readings each second (millidegrees to °C); PWM of 100 ms starting at 0 %.
    try h.spawn(
      .sampler(
        Sampler(
          index: 0, path: FilePath(text: path), period: .seconds(1), scale: 0.001, offset: 0,
          unit: ShortName("C"), start: H.start)))
    let fan = CurveFollower(curve: curve([(40, 0), (50, 30), (70, 100)]))
    try h.spawn(.curve(CurveRule(index: 1, source: 0, pwm: 2, follower: fan)))
    try h.spawn(
      .pwm(SoftwarePWM(index: 2, line: 0, period: .milliseconds(100), dutyPercent: 0, start: H.start)))
    _ = try h.run(until: 500)
    #expect(FileManager.default.createFile(atPath: path, contents: Data("60000".utf8)))
    _ = try h.run(until: 1500)
    #expect(FileManager.default.createFile(atPath: path, contents: Data("75000".utf8)))
    _ = try h.run(until: 2500)
    #expect(FileManager.default.createFile(atPath: path, contents: Data("20000".utf8)))
    let records = try h.run(until: 3500).filter { $0.task == "fan_curve" }
    // 50 °C: 30 %; 60 °C: 65 %; 75 °C: 100 % (clamped); 20 °C: 0 %.
    #expect(records.map(\.event) == ["duty", "duty", "duty", "duty"])
    #expect(records.map { $0.double("duty_percent") } == [30, 65, 100, 0])
    #expect(records.map { $0.double("value") } == [50, 60, 75, 20])
    #expect(records.map(ms) == [0, 1000, 2000, 3000])
    // The line: each duty from the period after the reading that set it.
    let history = h.outputHistory(0)
    #expect(onTimes(history, from: 100, to: 1000, period: 100).allSatisfy { $0 == 30 })
    #expect(onTimes(history, from: 1100, to: 2000, period: 100).allSatisfy { $0 == 65 })
    #expect(onTimes(history, from: 2100, to: 3000, period: 100).allSatisfy { $0 == 100 })
    #expect(onTimes(history, from: 3100, to: 3500, period: 100).allSatisfy { $0 == 0 })
    #expect(h.firmware.world.counters[2].errors == 0)
  }

  @Test func aThresholdSetsAPWMDutyOnAndOff() throws {
    let path = temporaryFile("20")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var h = H(lines: [.output(initial: false)], names: ["temp", "fan_switch", "fan"])
    try h.spawn(
      .sampler(
        Sampler(
          index: 0, path: FilePath(text: path), period: .milliseconds(100), scale: 1, offset: 0,
          unit: ShortName("C"), start: H.start)))
    try h.spawn(
      .threshold(
        ThresholdSwitch(
          index: 1, source: 0, target: .duty(pwm: 2, on: 80, off: 20), onAbove: 30, offBelow: 25)))
    try h.spawn(
      .pwm(SoftwarePWM(index: 2, line: 0, period: .milliseconds(10), dutyPercent: 0, start: H.start)))
    for (until, value) in [(50, "31"), (150, "27"), (250, "24")] {
      _ = try h.run(until: Int64(until))
      #expect(FileManager.default.createFile(atPath: path, contents: Data(value.utf8)))
    }
    let records = try h.run(until: 400).filter { $0.task == "fan_switch" }
    #expect(records.map(\.event) == ["on", "off"])
    #expect(records.map { $0.double("duty_percent") } == [80, 20])
    #expect(records.map(ms) == [100, 300])
    let history = h.outputHistory(0)
    #expect(onTimes(history, from: 0, to: 100, period: 10).allSatisfy { $0 == 0 })
    #expect(onTimes(history, from: 110, to: 300, period: 10).allSatisfy { $0 == 8 })
    #expect(onTimes(history, from: 310, to: 400, period: 10).allSatisfy { $0 == 2 })
  }

  @Test func fiveSteadyMinutesOfACurveAndADutyThresholdAllocateNothing() throws {
    let path = NSTemporaryDirectory() + "sensorloop-rule-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: path) }
    var h = H(
      lines: [.output(initial: false), .output(initial: false)],
      names: ["temp", "fan_curve", "fan", "alarm", "buzzer"])
    var values = InlineArray<16, Int64>(repeating: 0)
    for (k, v) in [45, 52, 61, 70, 64, 55, 48].enumerated() { values[k] = Int64(v) }
    try h.spawn(
      .simFile(
        SimFileWriter(
          path: FilePath(text: path), values: values, count: 7, repeats: true, start: H.start,
          every: .seconds(1))))
    try h.spawn(
      .sampler(
        Sampler(
          index: 0, path: FilePath(text: path), period: .seconds(1), scale: 1, offset: 0,
          unit: ShortName("C"), start: H.at(500))))
    let fan = CurveFollower(curve: curve([(40, 0), (50, 30), (70, 100)]), hysteresis: 2, minChange: 5)
    try h.spawn(.curve(CurveRule(index: 1, source: 0, pwm: 2, follower: fan)))
    try h.spawn(
      .pwm(SoftwarePWM(index: 2, line: 0, period: .milliseconds(100), dutyPercent: 0, start: H.start)))
    try h.spawn(
      .threshold(
        ThresholdSwitch(index: 3, source: 0, target: .duty(pwm: 4, on: 50, off: 0), onAbove: 65, offBelow: 60)
      ))
    try h.spawn(
      .pwm(SoftwarePWM(index: 4, line: 1, period: .milliseconds(50), dutyPercent: 0, start: H.start)))
    // A 1 MiB pipe holds the run's records unread: a full one makes the writer's write throw
    // EAGAIN, and swift-testing's hook on thrown errors allocates a backtrace (seen once records
    // carried wall_ns); the program itself allocates nothing there.
    _ = fcntl(h.outputPipe.write.rawValue, 1031 /* F_SETPIPE_SZ */, 1 << 20)
    _ = try h.run(until: 60_000)
    let warm = h.firmware.world.counters[1].records
    try h.spawn(.stopTimer(StopTimer(deadline: H.at(360_000))))
    h.firmware.world.control = ControlRequests()
    let before = sl_alloc_count_thread()
    _ = h.firmware.runUntilRequest()
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    // The curve changed the duty over and over (a 7 s cycle), nothing dropped or failed.
    #expect(h.firmware.world.counters[1].records > warm + 200)
    #expect(h.firmware.world.counters[3].records > 50)
    for task in 0..<5 {
      #expect(h.firmware.world.counters[task].dropped == 0 && h.firmware.world.counters[task].errors == 0)
    }
  }
}
