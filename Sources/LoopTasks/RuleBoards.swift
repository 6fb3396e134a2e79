// How tasks hand events to the rules that drive outputs, without allocating: fixed tables in
// the world, indexed by task, written by the task that has something to say and read by the
// tasks it wakes. A button writes its level and press count to the `BinaryBoard` (a switch
// toggles or follows it); a rule writes a duty to the `DutyBoard` (the pwm task applies it).
// Like `ReadingBoard`, a table keeps only the latest state and a count, so a reader that runs
// late still sees every change's total (a toggle counts presses, not wakes).

import LoopCore
import LoopGPIO

/// The wakers of tasks waiting for one task's next event: a few per task.
public struct Listeners: Sendable {
  private var wakers = InlineArray<32, InlineArray<4, Waker?>>(first: InlineArray(first: nil) { $0 }) { $0 }

  /// Nobody listens.
  public init() {}

  /// Asks to wake `cx`'s task at task `index`'s next event. Returns false when every slot is
  /// taken (the config checks make that a programmer error).
  @discardableResult
  @inline(never)
  public mutating func add<S: Scheduler & ~Copyable>(_ index: Int, _ cx: inout Context<S>) -> Bool {
    var free = -1
    for i in 0..<FirmwareLimits.subscribers {
      if wakers[index][i] == cx.waker { return true }
      if wakers[index][i] == nil && free < 0 { free = i }
    }
    if free < 0 { return false }
    wakers[index][free] = cx.waker
    return true
  }

  /// Wakes (and forgets) every task listening to task `index`.
  @inline(never)
  public mutating func wakeAll<S: Scheduler & ~Copyable>(_ index: Int, _ cx: inout Context<S>) {
    for i in 0..<FirmwareLimits.subscribers {
      if let waker = wakers[index][i] {
        cx.wake(waker)
        wakers[index][i] = nil
      }
    }
  }
}

/// What a binary source (a button) last did.
public struct BinaryState: Equatable, Sendable {
  /// Whether it is active (a button held down).
  public var level: Bool
  /// Times it became active since the start (presses).
  public var presses: UInt64
  /// When its level last changed.
  public var time: Instant
  /// Changes published so far (0: none yet).
  public var sequence: UInt64
}

/// One binary state per task, with a few listeners each (switches).
public struct BinaryBoard: Sendable {
  // A loop (`init(first:next:)`); `init(repeating:)` is unrolled, a store per element.
  private var states = InlineArray<32, BinaryState>(
    first: BinaryState(level: false, presses: 0, time: .zero, sequence: 0)
  ) { $0 }
  private var listeners = Listeners()

  /// Every source inactive.
  public init() {}

  /// The latest state of task `index`.
  public func latest(_ index: Int) -> BinaryState { states[index] }

  /// Stores task `index`'s new level (a rise counts as a press) and wakes its listeners.
  @inline(never)
  public mutating func publish<S: Scheduler & ~Copyable>(
    _ index: Int, level: Bool, at time: Instant, _ cx: inout Context<S>
  ) {
    var state = states[index]
    if level && !state.level { state.presses += 1 }
    state.level = level
    state.time = time
    state.sequence += 1
    states[index] = state
    listeners.wakeAll(index, &cx)
  }

  /// Asks to be woken at task `index`'s next change.
  @discardableResult
  public mutating func subscribe<S: Scheduler & ~Copyable>(_ index: Int, _ cx: inout Context<S>) -> Bool {
    listeners.add(index, &cx)
  }
}

/// The duty each pwm task is asked to run at: set by one rule (a curve or a threshold), taken
/// by the pwm task (software PWM at its next period; a hardware PWM task at once).
public struct DutyBoard: Sendable {
  /// The requested duty in percent by pwm task index; negative when none is waiting.
  private var requested = InlineArray<32, Double>(first: -1) { $0 }
  /// The pwm task to wake when its duty is set, if it sleeps between changes.
  private var wakers = InlineArray<32, Waker?>(first: nil) { $0 }

  /// Nothing requested.
  public init() {}

  /// Asks pwm task `pwm` to run at `percent` (0 to 100), replacing a request it has not taken.
  public mutating func set<S: Scheduler & ~Copyable>(_ pwm: Int, percent: Double, _ cx: inout Context<S>) {
    requested[pwm] = min(max(percent, 0), 100)
    if let waker = wakers[pwm] {
      cx.wake(waker)
      wakers[pwm] = nil
    }
  }

  /// The duty requested of pwm task `pwm` since it last took one, if any.
  public mutating func take(_ pwm: Int) -> Double? {
    let duty = requested[pwm]
    if duty < 0 { return nil }
    requested[pwm] = -1
    return duty
  }

  /// Asks to wake `cx`'s task (pwm task `pwm`) when its duty is next set.
  public mutating func listen<S: Scheduler & ~Copyable>(_ pwm: Int, _ cx: inout Context<S>) {
    wakers[pwm] = cx.waker
  }
}

extension FirmwareWorld {
  /// The value output line `index` was last set to (false when it is not an output).
  public func outputValue(_ index: Int) -> Bool {
    switch outputs[index] {
    case .some(let line): return line.value
    case .none: return false
    }
  }
}
