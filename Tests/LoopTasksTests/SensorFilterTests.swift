// The filters per reading: each one fed exact values at exact (virtual) times, the chain with a
// heartbeat behind a delta filter, the validation a config gets, and a steady state that
// allocates nothing.

import AllocCounter
import LoopCore
import LoopTasks
import Testing

/// Milliseconds on a virtual clock.
private func at(_ ms: Int64) -> Instant { Instant(nanoseconds: 0) + .milliseconds(ms) }

/// A chain of `specs` (which must be valid).
private func chain(_ specs: [FilterSpec]) throws -> FilterChain {
  var list = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
  for (i, spec) in specs.enumerated() { list[i] = spec }
  return try FilterChain(list, count: specs.count)
}

/// Feeds `values` one per second from 0 ms; the values passed (nil for a drop).
private func run(_ chain: inout FilterChain, _ values: [Double]) -> [Double?] {
  values.enumerated().map { i, v in chain.feed(v, at: at(Int64(i) * 1000)) }
}

@Suite struct SensorFilterTests {
  @Test func slidingAverageAndMedian() throws {
    var average = try chain([.average(window: 3)])
    // The window fills: 1, (1+2)/2, (1+2+6)/3, then slides: (2+6+7)/3, (6+7+8)/3.
    #expect(run(&average, [1, 2, 6, 7, 8]) == [1, 1.5, 3, 5, 7])
    var median = try chain([.median(window: 3)])
    // A spike of 100 never comes through; an even count takes the mean of the middle two.
    #expect(run(&median, [20, 22, 100, 21, 23]) == [20, 21, 22, 22, 23])
    var window = ValueWindow(size: 3)
    for v in [1.0, 2, 3, 4] { window.push(v) }
    #expect((0..<window.count).map { window[$0] } == [2, 3, 4])
  }

  @Test func medianOfAFullWindowOfSixteen() throws {
    var median = try chain([.median(window: 16)])
    var last: Double? = nil
    for v in (1...20).reversed() { last = median.feed(Double(v), at: at(0)) }
    // The last 16 fed are 16 … 1: the middle two are 8 and 9.
    #expect(last == 8.5)
  }

  @Test func exponentialAverage() throws {
    var ema = try chain([.exponential(alpha: 0.5)])
    // Starts at the first value, then halves the distance to each new one.
    #expect(run(&ema, [10, 20, 20, 0]) == [10, 15, 17.5, 8.75])
  }

  @Test func throttlePassesOnePerInterval() throws {
    var throttle = try chain([.throttle(interval: .milliseconds(2500))])
    // One value a second: 0 passes, 1 and 2 s are within 2.5 s of it, 3 s passes, 4 and 5 s
    // are within 2.5 s of 3 s, 6 s passes.
    #expect(run(&throttle, [0, 1, 2, 3, 4, 5, 6]) == [0, nil, nil, 3, nil, nil, 6])
  }

  @Test func deltaPassesMovesOfAtLeastTheMinimum() throws {
    var delta = try chain([.delta(minimum: 0.5)])
    // Compared with the last value passed, so a slow drift comes through once it adds up.
    #expect(run(&delta, [20, 20.2, 20.4, 20.5, 20.9, 19.9]) == [20, nil, nil, 20.5, nil, 19.9])
    var exact = try chain([.delta(minimum: 0)])
    #expect(run(&exact, [1, 1, 2, 2, 1]) == [1, nil, 2, nil, 1])
  }

  @Test func clampAndCalibrate() throws {
    var clamp = try chain([.clamp(low: 0, high: 100)])
    #expect(run(&clamp, [-5, 50, 130]) == [0, 50, 100])
    // A thermometer that reads 0.5 in ice water and 99 in boiling water.
    var calibrate = try chain([.calibrate(measured1: 0.5, actual1: 0, measured2: 99, actual2: 100)])
    let out = run(&calibrate, [0.5, 99, 49.75])
    #expect(out[0]! == 0)
    #expect(abs(out[1]! - 100) < 1e-12)
    #expect(abs(out[2]! - 50) < 1e-12)
  }

  /// A steady temperature behind a delta filter still reports every 10 s through a heartbeat:
  /// the repeats fall on the heartbeat's grid from the last value passed, and a new value
  /// restarts it. Virtual time: the chain is only ever told the time.
  @Test func heartbeatRepeatsBehindADeltaFilter() throws {
    var c = try chain([.delta(minimum: 0.5), .heartbeat(interval: .seconds(10))])
    #expect(c.nextDue == nil)  // nothing to repeat yet
    #expect(c.feed(21, at: at(0)) == 21)
    #expect(c.nextDue == at(10_000))
    #expect(c.feed(21.1, at: at(4_000)) == nil)  // dropped by delta: the heartbeat never saw it
    #expect(c.poll(now: at(9_999)) == nil)
    let first = c.poll(now: at(10_000))
    #expect(first?.value == 21 && first?.time == at(10_000))
    #expect(c.nextDue == at(20_000))
    // Polled late (the loop was busy): the repeat is stamped with its due time, and the grid
    // stays (next at 30 s).
    let second = c.poll(now: at(20_300))
    #expect(second?.value == 21 && second?.time == at(20_000))
    #expect(c.nextDue == at(30_000))
    // A real change passes and restarts the quiet time.
    #expect(c.feed(22, at: at(25_000)) == 22)
    #expect(c.nextDue == at(35_000))
    #expect(c.poll(now: at(30_000)) == nil)
    // A poll more than one interval late repeats once, not once per interval missed.
    let late = c.poll(now: at(70_000))
    #expect(late?.value == 22 && late?.time == at(35_000))
    #expect(c.poll(now: at(70_000)) == nil)
    #expect(c.nextDue == at(80_000))
  }

  /// A heartbeat's repeat goes through the filters after it, not those before.
  @Test func heartbeatRepeatsThroughTheLaterFiltersOnly() throws {
    var c = try chain([
      .calibrate(measured1: 0, actual1: 0, measured2: 1, actual2: 2), .heartbeat(interval: .seconds(1)),
      .clamp(low: 0, high: 5),
    ])
    #expect(c.feed(2, at: at(0)) == 4)  // ×2, then within the clamp
    #expect(c.feed(4, at: at(500)) == 5)  // ×2 = 8, clamped
    let repeated = c.poll(now: at(1_500))
    // The heartbeat holds 8 (what reached it); the clamp after it makes that 5 again.
    #expect(repeated?.value == 5 && repeated?.time == at(1_500))
  }

  @Test func aChainIsValidatedFilterByFilter() throws {
    func problem(_ specs: [FilterSpec]) -> (Int, String)? {
      do {
        _ = try chain(specs)
        return nil
      } catch let error as FilterChainError {
        return (error.index, error.message.description)
      } catch {
        return (-1, "\(error)")
      }
    }
    #expect(problem([.average(window: 4), .median(window: 17)])! == (1, "window must be 1 to 16"))
    #expect(problem([.average(window: 0)])! == (0, "window must be 1 to 16"))
    #expect(problem([.exponential(alpha: 0)])! == (0, "alpha must be above 0 and at most 1"))
    #expect(problem([.exponential(alpha: 1.5)])! == (0, "alpha must be above 0 and at most 1"))
    #expect(problem([.throttle(interval: .zero)])! == (0, "interval must be positive"))
    #expect(problem([.heartbeat(interval: .milliseconds(-1))])! == (0, "interval must be positive"))
    #expect(problem([.delta(minimum: -1)])! == (0, "minimum must be 0 or more"))
    #expect(problem([.clamp(low: 2, high: 1)])! == (0, "low must be at most high"))
    #expect(
      problem([.calibrate(measured1: 1, actual1: 0, measured2: 1, actual2: 5)])!
        == (0, "the two measured points must differ"))
    #expect(problem([.exponential(alpha: 1), .average(window: 16), .median(window: 1)]) == nil)
    var list = InlineArray<6, FilterSpec>(repeating: .delta(minimum: 0))
    list[0] = .average(window: 2)
    #expect(throws: FilterChainError.self) { try FilterChain(list, count: 7) }
    #expect(FilterSpec.median(window: 3).name.description == "median")
  }

  /// Every filter in one chain of six, fed for a simulated day of 1 s readings: no heap after
  /// the first value.
  @Test func aLongRunAllocatesNothing() throws {
    var first = try chain([
      .median(window: 5), .average(window: 16), .exponential(alpha: 0.2),
      .calibrate(
        measured1: 0, actual1: 1, measured2: 10, actual2: 11),
      .clamp(low: -40, high: 125), .delta(minimum: 0.1),
    ])
    var second = try chain([.throttle(interval: .seconds(5)), .heartbeat(interval: .seconds(60))])
    _ = first.feed(20, at: at(0))
    var passed = 0
    let before = sl_alloc_count_thread()
    for s in 1..<86_400 {
      let time = at(Int64(s) * 1000)
      // A slow sine-like triangle wave with a spike every 100 s.
      let phase = Double(s % 600) / 300
      let value = 20 + (phase < 1 ? phase : 2 - phase) * 5 + (s % 100 == 0 ? 50 : 0)
      if let v = first.feed(value, at: time), second.feed(v, at: time) != nil { passed += 1 }
      while let due = second.nextDue, due <= time {
        if second.poll(now: time) != nil { passed += 1 }
      }
    }
    let allocations = sl_alloc_count_thread() - before
    if sl_alloc_counter_active() != 0 { #expect(allocations == 0) }
    #expect(passed > 10_000)
  }
}
