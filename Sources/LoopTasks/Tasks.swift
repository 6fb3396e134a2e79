// The firmware task library's shared helpers and its smallest tasks (heartbeat, software PWM,
// ticker). Each task the firmware runs is one case of `FirmwareTask`
// (FirmwareTask.generated.swift, written from Sources/LoopConfig/Kinds/registry.txt).

import LoopCore
import LoopGPIO
import LoopLinux

extension FirmwareWorld {
  /// Says when periodic task `index` is next due to do its work (its ticker's next grid point),
  /// for the watchdog: the task counts as stalled once it is later than that by the stall time.
  mutating func markProgress(_ index: Int, due time: Instant) { due[index] = time }
}

/// Polls a ticker, counting capacity errors as task errors (the config checks make them a bug).
@inline(never)
func nextTick<S: Scheduler & ~Copyable>(
  _ ticker: inout Ticker, _ cx: inout Context<S>, _ counters: inout TaskCounters
) -> Tick? {
  do {
    if case .ready(let tick) = try ticker.poll(&cx) { return tick }
  } catch {
    counters.errors += 1
  }
  return nil
}

// MARK: - Outputs

/// Blinks an output line in a repeating on/off pattern (a heartbeat LED).
public struct Heartbeat: Sendable {
  /// The task index.
  public let index: Int
  /// The output line index.
  public let line: Int
  var pattern: BlinkPattern
  var driven: Bool?

  /// A heartbeat on `line` with `pattern`, started at its first step.
  public init(index: Int, line: Int, pattern: BlinkPattern) {
    self.index = index
    self.line = line
    self.pattern = pattern
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    let now = cx.now
    #if PROOF_NEGATIVE
      // The allocation proof's negative check (cross/build aarch64 --no-allocations).
      proofNegativeClosure = { now }
    #endif
    _ = pattern.advance(now: now)
    if driven != pattern.isOn {
      drive(&world.outputs[line]!, pattern.isOn, at: now, &world.counters[index])
      driven = pattern.isOn
    }
    world.markProgress(index, due: pattern.next)
    do { try cx.wake(at: pattern.next) } catch { world.counters[index].errors += 1 }
    return .pending
  }
}

/// Sets an output, counting a failure as a task error.
@inline(never)
func drive(_ line: inout OutputLine, _ value: Bool, at time: Instant, _ counters: inout TaskCounters) {
  do { try line.set(value, at: time) } catch { counters.errors += 1 }
}

/// Software PWM on an output line: on for `duty` of every `period`, on a fixed grid.
public struct SoftwarePWM: Sendable {
  /// The task index.
  public let index: Int
  /// The output line index.
  public let line: Int
  var onTime: Duration
  var ticker: Ticker
  var offAt: Instant?

  /// PWM with `period` and `dutyPercent` (0–100) starting at `start`.
  public init(index: Int, line: Int, period: Duration, dutyPercent: Int, start: Instant) {
    self.index = index
    self.line = line
    onTime = Duration(nanoseconds: period.nanoseconds / 100 * Int64(dutyPercent))
    ticker = Ticker(period: period, first: start, policy: .skip)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // A duty set by a rule (a curve, a threshold) applies from the next period.
    if let duty = world.duties.take(index) {
      onTime = Duration(nanoseconds: Int64((Double(ticker.period.nanoseconds) * duty / 100).rounded()))
    }
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, due: ticker.next)
      if onTime > .zero {
        drive(&world.outputs[line]!, true, at: cx.now, &world.counters[index])
        offAt = tick.scheduled + onTime
      } else if world.outputValue(line) {
        // Down to 0 % from a full duty, which kept the line on across periods.
        drive(&world.outputs[line]!, false, at: cx.now, &world.counters[index])
      }
    }
    if let off = offAt {
      if cx.now >= off || off >= ticker.next {
        // Full duty keeps the line on across periods.
        if off < ticker.next { drive(&world.outputs[line]!, false, at: cx.now, &world.counters[index]) }
        offAt = nil
      } else {
        do { try cx.wake(at: off) } catch { world.counters[index].errors += 1 }
      }
    }
    return .pending
  }
}

/// Emits a tick record on a fixed grid.
public struct TickerTask: Sendable {
  /// The task index.
  public let index: Int
  var ticker: Ticker

  /// Ticks every `period` from `start + period`.
  public init(index: Int, period: Duration, start: Instant) {
    self.index = index
    ticker = Ticker(period: period, first: start + period, policy: .skip)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, due: ticker.next)
      var record = world.record(index, at: tick.scheduled)
      record.field("event", "tick")
      record.field("n", integer: Int64(ticker.delivered))
      record.field("late_ns", integer: tick.lateness.nanoseconds)
      record.finish()
      world.emit(record, task: index, &cx)
    }
    return .pending
  }
}
