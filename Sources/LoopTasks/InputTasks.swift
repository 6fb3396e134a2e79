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

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    while let event = nextEdge(line, &cx, &world, task: index) {
      // A long press due before this edge happened first. The deadline is read before
      // `check` clears it: it is the long press's time.
      let deadline = logic.longPressDeadline
      report(check(before: event.timestamp), at: deadline, &cx, &world)
      let sample = EdgeSample(time: event.timestamp, rising: event.edge == .rising)
      report(logic.edge(sample), at: event.timestamp, &cx, &world)
    }
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

  @inline(never)
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
    // Switches toggle on its presses or follow its held state.
    switch event {
    case .press: world.binary.publish(index, level: true, at: time, &cx)
    case .release: world.binary.publish(index, level: false, at: time, &cx)
    case .longPress: break
    }
  }
}

/// Counts pulses per window and reports count, rate and a scaled value.
///
/// Every edge is counted in the window its kernel timestamp falls in. After a stall of the loop
/// longer than a window (the ticker skips the grid points it could not deliver), the edges of the
/// skipped windows are not lost and not put in one window: a catch-up reading stamped at the last
/// skipped grid point carries their total `count`, the rate over the real time they span, and
/// `windows` (how many windows it covers). A rain gauge's counts still add up to the rain; an
/// anemometer's rate stays the average speed.
public struct PulseCounter: Sendable {
  /// The task index.
  public let index: Int
  /// The input line index.
  public let line: Int
  let scale: Double
  let unit: ShortName
  var ticker: Ticker
  /// Edges before `ticker.next` (the window its next tick closes).
  var current: Int64 = 0
  /// Edges at or after `ticker.next`, by window after it.
  var later = LaterEdges()
  /// Pulses counted since start.
  public private(set) var total: Int64 = 0

  /// Edges stamped at or after the next grid point, told apart by the window after it they fall
  /// in: window `last` (the latest edge's) and every window before it. Edges come in timestamp
  /// order, so two counts say everything the next tick needs.
  struct LaterEdges: Sendable {
    /// The window (0: the one starting at `ticker.next`) of the latest edge.
    var last: Int64 = 0
    /// Edges in window `last`.
    var inLast: Int64 = 0
    /// Edges in windows before `last`.
    var before: Int64 = 0

    mutating func add(window: Int64) {
      if window > last {
        before += inLast
        inLast = 0
        last = window
      }
      inLast += 1
    }

    /// The edges in windows before `window`, and those in it or after.
    func split(at window: Int64) -> (before: Int64, from: Int64) {
      if window == 0 { return (0, before + inLast) }
      return last < window ? (before + inLast, 0) : (before, inLast)
    }
  }

  /// A counter on `line` reporting every `window` from `start`; value = pulses/s × `scale`.
  public init(index: Int, line: Int, window: Duration, scale: Double, unit: ShortName, start: Instant) {
    self.index = index
    self.line = line
    self.scale = scale
    self.unit = unit
    ticker = Ticker(period: window, first: start + window, policy: .skip)
  }

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // Count each edge in the window its kernel timestamp falls in.
    while let event = nextEdge(line, &cx, &world, task: index) {
      if event.timestamp < ticker.next {
        current += 1
      } else {
        later.add(window: (event.timestamp - ticker.next) / ticker.period)
      }
      total += 1
    }
    let missedBefore = ticker.missed
    while let tick = nextTick(&ticker, &cx, &world.counters[index]) {
      world.counters[index].missedTicks = ticker.missed
      report(current, windows: 1, at: tick.scheduled, &cx, &world)
      // Grid points skipped after this one: their windows' edges make one catch-up reading.
      let skipped = Int64(ticker.missed - missedBefore)
      let (caughtUp, following) = later.split(at: skipped)
      if skipped > 0 {
        report(caughtUp, windows: skipped, at: tick.scheduled + ticker.period * skipped, &cx, &world)
      }
      current = following
      later = LaterEdges()
    }
    world.markProgress(index, due: ticker.next)
    return .pending
  }

  /// Reports `count` pulses over `windows` windows ending at `time`.
  @inline(never)
  private func report<S: Scheduler & ~Copyable>(
    _ count: Int64, windows: Int64, at time: Instant, _ cx: inout Context<S>, _ world: inout FirmwareWorld
  ) {
    let seconds = Double(ticker.period.nanoseconds) / 1e9 * Double(windows)
    let rate = Double(count) / seconds
    var record = world.record(index, at: time)
    record.field("event", "reading")
    record.field("count", integer: count)
    record.field("rate_hz", rate, decimals: 3)
    record.field("value", rate * scale, decimals: 3)
    record.field("unit", unit)
    if windows > 1 { record.field("windows", integer: windows) }
    record.finish()
    world.emit(record, task: index, &cx)
    world.readings.publish(index, value: rate * scale, at: time, &cx)
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

  @inline(never)
  mutating func poll<S: Scheduler & ~Copyable>(_ cx: inout Context<S>, _ world: inout FirmwareWorld)
    -> Poll<Void>
  {
    // Merge the two lines' edges in timestamp order, one held event of lookahead per line.
    while true {
      if case .none = heldA { heldA = nextEdge(lineA, &cx, &world, task: index) }
      if case .none = heldB { heldB = nextEdge(lineB, &cx, &world, task: index) }
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
    }
  }
}
