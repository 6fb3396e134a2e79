// The result of polling a task or a building block, and the waker a task leaves behind
// when it has to wait.

/// What a poll produced: not yet (`pending`), or done with a value (`ready`).
public enum Poll<Value> {
  /// Not finished; the poller has registered a waker (a timer, an interrupt, a signal, ...).
  case pending
  /// Finished with `Value`.
  case ready(Value)

  /// Whether this is `.ready`.
  public var isReady: Bool {
    if case .ready = self { return true }
    return false
  }
}

extension Poll: Equatable where Value: Equatable {}
extension Poll: Sendable where Value: Sendable {}

/// Names one task for waking: its slot and the slot's generation when the task was spawned.
///
/// A waker aimed at a slot whose task has finished (and whose slot may hold a new task) carries
/// an old generation and is ignored: waking a stale waker is always safe.
public struct Waker: Hashable, Sendable {
  /// The slot in the low 16 bits, the generation in the high 32, the bits between zero: one
  /// register, one 8-byte load, store or compare (a wake, a registration and a poll's context
  /// each move wakers; with `SlotState.waker`, W1 3 instructions per hop fewer, W2 14 per wake).
  private let bits: UInt64

  /// The slot index in the executor.
  public var slot: UInt16 { UInt16(truncatingIfNeeded: bits) }
  /// The slot's generation at spawn time.
  public var generation: UInt32 { UInt32(truncatingIfNeeded: bits &>> 32) }

  /// A waker for `slot` in `generation`.
  public init(slot: UInt16, generation: UInt32) {
    bits = UInt64(generation) &<< 32 | UInt64(slot)
  }
}

/// A fixed capacity was reached. Returned, never trapped on, never grown past.
public enum CapacityError: Error, Equatable, Sendable {
  /// Every task slot is in use (`spawn`).
  case taskSlots
  /// The timer queue holds as many deadlines as it can (`wake(at:)`, `sleep`, `Ticker`).
  case timerQueue
  /// A channel holds as many elements as it can (`Channel.trySend`).
  case channel
}
