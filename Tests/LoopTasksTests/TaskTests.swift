// Each firmware task on a virtual clock with scripted mock inputs: what it writes (records)
// and drives (output lines), checked exactly. Ports and lines are numbered as in the harness.

import Foundation
import LoopCore
import LoopGPIO
import LoopLinux
import LoopTasks
import Testing

private typealias H = FirmwareHarness

/// Milliseconds after the harness start of a record.
private func ms(_ record: Record) -> Int64 { (record.time - H.start.nanoseconds) / 1_000_000 }

@Suite struct ButtonTaskTests {
  @Test func bouncyPressesGiveOnePressAndOneReleaseEach() throws {
    var h = H(
      lines: [.input(.both, .pullUp, activeLow: true, debounce: .milliseconds(20))], names: ["button"])
    // Physical level low = pressed (active low). Each edge bounces 3 times, 0.5 ms apart.
    try h.stimulate(.bounce(port: 0, start: H.at(100), high: false, bounces: 3, spacing: .microseconds(500)))
    try h.stimulate(.bounce(port: 0, start: H.at(250), high: true, bounces: 3, spacing: .microseconds(500)))
    try h.stimulate(.bounce(port: 0, start: H.at(1000), high: false, bounces: 2, spacing: .microseconds(300)))
    try h.stimulate(.level(port: 0, at: H.at(2600), high: true))
    try h.spawn(.button(Button(index: 0, line: 0, longPress: .milliseconds(1000))))
    let records = try h.run(until: 3000)
    #expect(records.map(\.event) == ["press", "release", "press", "long_press", "release"])
    #expect(records.map(ms) == [100, 250, 1000, 2000, 2600])
    #expect(records[1].int("held_ms") == 150)
    #expect(records[4].int("held_ms") == 1600)
    #expect(h.firmware.world.counters[0].records == 5)
  }
}

@Suite struct PulseCounterTaskTests {
  @Test func countsPerWindowWithRateAndScaledValue() throws {
    var h = H(lines: [.input(.rising, .pullDown, activeLow: false, debounce: .zero)], names: ["wind"])
    // 10 Hz for 2.5 s from 0 ms, then silence.
    try h.stimulate(.pulses(port: 0, start: H.at(0), hertz: 10, dutyPercent: 50, count: 25))
    try h.spawn(
      .pulseCounter(
        PulseCounter(
          index: 0, line: 0, window: .seconds(1), scale: 2.4, unit: ShortName("km/h"), start: H.start)))
    let records = try h.run(until: 4000)
    #expect(records.map(ms) == [1000, 2000, 3000, 4000])
    #expect(records.map { $0.int("count")! } == [10, 10, 5, 0])
    #expect(records.map { $0.double("rate_hz")! } == [10, 10, 5, 0])
    #expect(records.map { $0.double("value")! } == [24, 24, 12, 0])
    #expect(records[0].string("unit") == "km/h")
  }
}

@Suite struct EncoderTaskTests {
  @Test func quadratureStepsBecomeDetentsBothWays() throws {
    var h = H(
      lines: [
        .input(.both, .pullUp, activeLow: false, debounce: .zero),
        .input(.both, .pullUp, activeLow: false, debounce: .zero),
      ], names: ["knob"])
    // Both pins rest high (pull-ups). 8 steps clockwise at 100 steps/s, then 4 back.
    try h.stimulate(.quadrature(a: 0, b: 1, start: H.at(100), stepsPerSecond: 100, steps: 8))
    try h.stimulate(.quadrature(a: 0, b: 1, start: H.at(500), stepsPerSecond: 100, steps: -4))
    try h.spawn(.encoder(Encoder(index: 0, lineA: 0, lineB: 1, stepsPerDetent: 4, a: true, b: true)))
    let records = try h.run(until: 1000)
    #expect(records.map { $0.int("position")! } == [1, 2, 1])
    #expect(records.map { $0.int("delta")! } == [1, 1, -1])
    // A detent completes on its 4th step: 100 + 3 × 10 ms, 100 + 7 × 10 ms; back: 500 + 3 × 10 ms.
    #expect(records.map(ms) == [130, 170, 530])
    #expect(h.firmware.world.counters[0].errors == 0)
  }
}

@Suite struct OutputTaskTests {
  @Test func heartbeatFollowsItsPatternOnAGrid() throws {
    var h = H(lines: [.output(initial: false)], names: ["heartbeat"])
    var steps = PatternSteps(repeating: .zero)
    steps[0] = .milliseconds(100)
    steps[1] = .milliseconds(400)
    try h.spawn(
      .heartbeat(Heartbeat(index: 0, line: 0, pattern: BlinkPattern(steps, count: 2, start: H.start)!)))
    _ = try h.run(until: 1200)
    let history = h.outputHistory(0)
    #expect(history.map(\.ms) == [0, 0, 100, 500, 600, 1000, 1100])
    #expect(history.map(\.value) == [false, true, false, true, false, true, false])
  }

  /// Finding 5 of issue 13: a 16-step pattern keeps all its steps (main cut it to 8).
  @Test func heartbeatKeepsSixteenSteps() throws {
    var h = H(lines: [.output(initial: false)], names: ["heartbeat"])
    var steps = PatternSteps(repeating: .zero)
    for k in 0..<16 { steps[k] = .milliseconds(Int64(10 * (k + 1))) }
    try h.spawn(
      .heartbeat(Heartbeat(index: 0, line: 0, pattern: BlinkPattern(steps, count: 16, start: H.start)!)))
    _ = try h.run(until: 1400)
    let history = h.outputHistory(0)
    // On at 0, then a change at the end of each step: 10, 10+20, ... (the sum of 10·k), and the
    // pattern starts over at 1360.
    var ends: [Int64] = []
    var t: Int64 = 0
    for k in 0..<16 {
      t += Int64(10 * (k + 1))
      ends.append(t)
    }
    // ... and goes on with its first steps: 1360 + 10, + 20.
    #expect(history.map(\.ms) == [0, 0] + ends + [1370, 1390])
    #expect(history.map(\.value) == [false] + (0..<19).map { $0 % 2 == 0 })
  }

  @Test func pwmHoldsItsDuty() throws {
    var h = H(lines: [.output(initial: false)], names: ["dimmer"])
    try h.spawn(
      .pwm(SoftwarePWM(index: 0, line: 0, period: .milliseconds(20), dutyPercent: 25, start: H.start)))
    _ = try h.run(until: 59)
    let history = h.outputHistory(0)
    #expect(history.map(\.ms) == [0, 0, 5, 20, 25, 40, 45])
    #expect(history.map(\.value) == [false, true, false, true, false, true, false])
  }
}

@Suite struct FileTaskTests {
  func temporaryFile(_ contents: String?) -> String {
    let path = NSTemporaryDirectory() + "sensorloop-test-\(UUID().uuidString)"
    if let contents { #expect(FileManager.default.createFile(atPath: path, contents: Data(contents.utf8))) }
    return path
  }

  @Test func samplerScalesReadingsAndReportsErrors() throws {
    let path = temporaryFile("48250\n")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var h = H(lines: [], names: ["temp"])
    try h.spawn(
      .sampler(
        Sampler(
          index: 0, path: FilePath(text: path), period: .milliseconds(500), scale: 0.001,
          offset: -0.25, unit: ShortName("C"), start: H.start)))
    var records = try h.run(until: 400)
    #expect(records.count == 1)
    #expect(records[0].event == "reading" && records[0].double("value") == 48.0)
    // The file vanishes: an error record with ENOENT, and the sampler keeps going.
    try FileManager.default.removeItem(atPath: path)
    records = try h.run(until: 900)
    #expect(records.last?.event == "error")
    #expect(records.last?.string("error") == "missing")
    #expect(records.last?.int("errno") == 2)
    // It comes back holding garbage, then a number again.
    #expect(FileManager.default.createFile(atPath: path, contents: Data("hot\n".utf8)))
    records = try h.run(until: 1400)
    #expect(records.last?.string("error") == "not a number")
    #expect(FileManager.default.createFile(atPath: path, contents: Data("-1500".utf8)))
    records = try h.run(until: 1900)
    #expect(records.last?.double("value") == -1.75)
    #expect(records.map(ms) == [0, 500, 1000, 1500])
    #expect(h.firmware.world.counters[0].errors == 2)
  }

  @Test func thresholdSwitchesWithHysteresis() throws {
    let path = temporaryFile("20")
    defer { try? FileManager.default.removeItem(atPath: path) }
    var h = H(lines: [.output(initial: false)], names: ["temp", "fan"])
    try h.spawn(
      .sampler(
        Sampler(
          index: 0, path: FilePath(text: path), period: .milliseconds(100), scale: 1, offset: 0,
          unit: ShortName("C"), start: H.start)))
    try h.spawn(.threshold(ThresholdSwitch(index: 1, source: 0, line: 0, onAbove: 30, offBelow: 25)))
    for (until, value) in [(50, "29"), (150, "31"), (250, "27"), (350, "24"), (450, "26")] {
      _ = try h.run(until: Int64(until))
      #expect(FileManager.default.createFile(atPath: path, contents: Data(value.utf8)))
    }
    let records = try h.run(until: 550).filter { $0.task == "fan" }
    #expect(records.map(\.event) == ["on", "off"])
    #expect(records.map(ms) == [200, 400])
    #expect(h.outputHistory(0).map(\.value) == [false, true, false])
  }

  /// Finding 3 of issue 13: a task is stalled when it is late for its own next deadline by more
  /// than the stall time, not when it did no work for that long. A sampler reading every 20 s
  /// beside a 5 s stall time is never stalled; a task whose deadline passes and never comes back
  /// (here task 2, due at 3 s, whose wake-up was lost) is stalled once 5 s late, and the kicks
  /// stop. On main the sampler was "stalled" 5 s after each reading.
  @Test func watchdogJudgesEachTaskByItsOwnDeadline() throws {
    let path = temporaryFile("21000")
    defer { try? FileManager.default.removeItem(atPath: path) }
    let device = try FileDescriptor.pipe(nonBlocking: true)
    var h = H(lines: [], names: ["slow", "tick", "lost", "watchdog"])
    try h.spawn(
      .sampler(
        Sampler(
          index: 0, path: FilePath(text: path), period: .seconds(20), scale: 1, offset: 0, unit: ShortName(),
          start: H.start)))
    try h.spawn(.ticker(TickerTask(index: 1, period: .milliseconds(100), start: H.start)))
    h.firmware.world.due[2] = H.at(3000)
    try h.spawn(
      .watchdog(
        Watchdog(
          index: 3, device: device.write.rawValue, kick: .seconds(1), stall: .seconds(5), watched: 0b111,
          start: H.start)))
    var records = try h.run(until: 8500).filter { $0.task == "watchdog" }
    // 8.5 s in: the sampler last read at 0 s and is due at 20 s; task 2 is 5.5 s late, but the
    // watchdog looks only every second: at 8 s it was exactly 5 s late, not more.
    #expect(records.isEmpty)
    #expect(h.firmware.world.stalledTask == -1)
    records = try h.run(until: 45_000).filter { $0.task == "watchdog" }
    #expect(records.map(\.event) == ["stall"])
    #expect(records.map(ms) == [9000])
    #expect(records.first?.string("stalled") == "lost")
    #expect(h.firmware.world.stalledTask == 2)
    // Kicks at 0, 1, ..., 8 s; none from 9 s on.
    var buffer = [UInt8](repeating: 0, count: 256)
    let n = buffer.withUnsafeMutableBytes { (try? device.read.read(into: $0)) ?? 0 }
    #expect(String(decoding: buffer[0..<n], as: UTF8.self) == String(repeating: "k", count: 9))
    // Task 2 back on time: resumed, kicks again.
    h.firmware.world.due[2] = H.at(46_000)
    records = try h.run(until: 47_500).filter { $0.task == "watchdog" }
    #expect(records.map(\.event) == ["stall", "resumed"])
    #expect(h.firmware.world.stalledTask == -1)
  }
}

@Suite struct OutputRingTaskTests {
  @Test func aFullRingDropsRecordsAndCountsThemPerTask() throws {
    // 2 KiB of ring; a ticker every millisecond writes far more than the writer can take
    // when the pipe is never read: the writer sees EAGAIN, records are dropped, nothing stalls.
    var h = H(lines: [], names: ["tick"], ringBytes: 2048)
    try h.spawn(.ticker(TickerTask(index: 0, period: .milliseconds(1), start: H.start)))
    _ = try h.run(until: 5000)
    let counters = h.firmware.world.counters[0]
    #expect(counters.records + counters.dropped == 5000)
    #expect(counters.dropped > 0)
    #expect(counters.missedTicks == 0)
  }
}
