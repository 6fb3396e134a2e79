// Tasks fed by GPIO input lines: a debounced button, a pulse counter (anemometer, flow or
// energy meter) and a quadrature rotary encoder. Edges arrive with kernel timestamps, so what
// they report does not depend on how late the loop ran.

import LoopCore
import LoopGPIO
import LoopLinux

/// The next edge of input `line`, or nil when none is waiting (the task is then registered).
///
/// A failed read of the line's fd (EIO, ENODEV when the chip went away) does not stop the
/// line's poll; it is counted as the task's error and reported in an error record, so the
/// task's stream and the summary both say the line failed.
func nextEdge<S: Scheduler & ~Copyable>(
  _ line: Int, _ cx: inout Context<S>, _ world: inout FirmwareWorld, task index: Int
) -> EdgeEvent? {
  let errorsBefore = world.readErrors(ofInput: line).count
  var event: EdgeEvent? = nil
  do {
    if case .ready(let next) = try world.inputs[line]!.poll(&cx) { event = next }
  } catch {
    world.counters[index].errors += 1
  }
  let failure = world.readErrors(ofInput: line)
  if failure.count != errorsBefore {
    world.counters[index].errors += failure.count - errorsBefore
    var record = world.record(index, at: cx.now)
    record.field("event", "error")
    record.field("error", "line read")
    record.field("errno", integer: Int64(failure.last?.rawValue ?? 0))
    record.finish()
    world.emit(record, task: index, &cx)
  }
  return event
}

extension FirmwareWorld {
  /// How many reads of input `index`'s fd failed so far, and the last failure.
  func readErrors(ofInput index: Int) -> (count: UInt64, last: Errno?) {
    switch inputs[index] {
    case .some(let line): return (line.counters.readErrors, line.lastError)
    case .none: return (0, nil)
    }
  }
}

/// A push button: press, release (with the time held) and long-press records.
public struct Button: Sendable {
  /// The task index.
  public let index: Int
  /// The input line index.
  public let line: Int
  var logic: ButtonLogic
  let reportsLongPress: Bool

  /// A button on `line`; `longPress` nil for no long-press records.
  public init(index: Int, line: Int, longPress: Duration?) {
    self.index = index
    self.line = line
    logic = ButtonLogic(longPress: longPress ?? .seconds(1))
    reportsLongPress = longPress != nil
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while let event = nextEdge(line, &cx, &world, task: index) {
      // A long press due before this edge happened first.
      report(check(before: event.timestamp), at: logic.longPressDeadline, &cx, &world)
      let sample = EdgeSample(time: event.timestamp, rising: event.edge == .rising)
      report(logic.edge(sample), at: event.timestamp, &cx, &world)
    }
    world.markProgress(index, at: cx.now)
    guard reportsLongPress, let deadline = logic.longPressDeadline else { return .pending }
    let now = cx.now
    if now >= deadline {
      report(logic.check(now: now), at: deadline, &cx, &world)
    } else {
      do { try cx.wake(at: deadline) } catch { world.counters[index].errors += 1 }
    }
    return .pending
  }

  private mutating func check(before time: Instant) -> ButtonLogic.Event? {
    guard reportsLongPress, let deadline = logic.longPressDeadline, deadline <= time else { return nil }
    return logic.check(now: deadline)
  }

  private func report<S: Scheduler & ~Copyable>(
    _ event: ButtonLogic.Event?, at time: Instant?, _ cx: inout Context<S>, _ world: inout FirmwareWorld
  ) {
    guard let event, let time else { return }
    var record = world.record(index, at: time)
    switch event {
    case .press:
      record.field("event", "press")
    case .release(let held):
      record.field("event", "release")
      record.field("held_ms", integer: held.nanoseconds / 1_000_000)
    case .longPress:
      record.field("event", "long_press")
    }
    record.finish()
    world.emit(record, task: index, &cx)
  }
}

/// Counts pulses per window and reports count, rate and a scaled value.
public struct PulseCounter: Sendable {
  /// The task index.
  public let index: Int
  /// The input line index.
  public let line: Int
  let scale: Double
  let unit: ShortName
  var ticker: Ticker
  var current: Int64 = 0
  var following: Int64 = 0
  /// Pulses counted since start.
  public private(set) var total: Int64 = 0

  /// A counter on `line` reporting every `window` from `start`; value = pulses/s × `scale`.
  public init(index: Int, line: Int, window: Duration, scale: Double, unit: ShortName, start: Instant) {
    self.index = index
    self.line = line
    self.scale = scale
    self.unit = unit
    ticker = Ticker(period: window, first: start + window, policy: .skip)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // Count each edge in the window its kernel timestamp falls in.
    while let event = nextEdge(line, &cx, &world, task: index) {
      if event.timestamp < ticker.next { current += 1 } else { following += 1 }
      total += 1
    }
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      world.markProgress(index, at: tick.scheduled)
      let seconds = Double(ticker.period.nanoseconds) / 1e9
      let rate = Double(current) / seconds
      var record = world.record(index, at: tick.scheduled)
      record.field("event", "reading")
      record.field("count", integer: current)
      record.field("rate_hz", rate, decimals: 3)
      record.field("value", rate * scale, decimals: 3)
      record.field("unit", unit)
      record.finish()
      world.emit(record, task: index, &cx)
      world.readings.publish(index, value: rate * scale, at: tick.scheduled, &cx)
      current = following
      following = 0
    }
    return .pending
  }
}

/// A quadrature rotary encoder on two input lines, reporting each detent.
public struct Encoder: Sendable {
  /// The task index.
  public let index: Int
  /// Line A's index.
  public let lineA: Int
  /// Line B's index.
  public let lineB: Int
  var decoder: QuadratureDecoder
  var heldA: EdgeEvent?
  var heldB: EdgeEvent?

  /// An encoder on `lineA`/`lineB` at rest with levels `a`, `b`.
  public init(index: Int, lineA: Int, lineB: Int, stepsPerDetent: Int, a: Bool, b: Bool) {
    self.index = index
    self.lineA = lineA
    self.lineB = lineB
    decoder = QuadratureDecoder(stepsPerDetent: stepsPerDetent, a: a, b: b)
  }

  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // Merge the two lines' edges in timestamp order, one held event of lookahead per line.
    while true {
      if heldA == nil { heldA = nextEdge(lineA, &cx, &world, task: index) }
      if heldB == nil { heldB = nextEdge(lineB, &cx, &world, task: index) }
      let takeB: Bool
      switch (heldA, heldB) {
      case (nil, nil): return .pending
      case (.some, nil): takeB = false
      case (nil, .some): takeB = true
      case (.some(let a), .some(let b)): takeB = b.timestamp < a.timestamp
      }
      let event = takeB ? heldB! : heldA!
      if takeB { heldB = nil } else { heldA = nil }
      let invalidBefore = decoder.invalid
      let change = decoder.edge(lineB: takeB, level: event.edge == .rising)
      if decoder.invalid != invalidBefore { world.counters[index].errors += 1 }
      if change != 0 {
        var record = world.record(index, at: event.timestamp)
        record.field("event", "step")
        record.field("delta", integer: Int64(change))
        record.field("position", integer: Int64(decoder.detents))
        record.finish()
        world.emit(record, task: index, &cx)
        world.readings.publish(index, value: Double(decoder.detents), at: event.timestamp, &cx)
      }
      world.markProgress(index, at: event.timestamp)
    }
  }
}
