// Synchronisation between tasks of one executor: a waker registration, a latest-value signal
// and a fixed-capacity FIFO channel. These live in the application's `World` (shared state),
// never in a task, and never allocate: a full channel is an error or a wait, never growth.

/// Remembers the one task to wake. Registering a different task wakes the one it replaces,
/// so neither can miss its wake (it re-polls and re-registers).
///
/// Holds one waker: a second task registering replaces (and wakes) the first. Two tasks that
/// both keep waiting would wake each other on every poll, forever, at 100% CPU: a debug build
/// traps once they have taken turns `bounceLimit` times in a row. Never blocks or allocates.
public struct WakerRegistration: Sendable {
  /// The registered waker, or `none` (slot `UInt16.max`, which no executor has: slots are
  /// fewer than `UInt16.max`). Not an `Optional`: the hot path (W1) then loads, compares and
  /// stores one 8-byte value, without a separate tag byte.
  private var stored = WakerRegistration.none
  /// The task the latest registration replaced (or `none`), to notice two tasks taking turns.
  private var replaced = WakerRegistration.none
  /// Registrations in a row that gave the registration back to the task replaced just before.
  private var bounces: UInt32 = 0
  private static let none = Waker(slot: .max, generation: 0)

  /// The registered task, if any.
  public var waker: Waker? { stored.slot == .max ? nil : stored }

  /// Turns two tasks may take replacing each other, with no wake in between, before a debug
  /// build traps: far more than a hand-over between tasks ever takes.
  public static var bounceLimit: UInt32 { 1_000 }

  /// Nobody registered.
  public init() {}

  /// Registers the polling task (waking the one it replaces). In a debug build, traps when two
  /// tasks have replaced each other `bounceLimit` times in a row: they wait on the same side.
  public mutating func register<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) {
    if let old = replace(with: cx.waker) { cx.wake(old) }
  }

  /// Makes `waker` the registered task; returns the one it replaced (to be woken), if any.
  /// Counts and checks bounces as `register` does. The kernel's joiners use it directly.
  mutating func replace(with waker: Waker) -> Waker? {
    let old = stored
    stored = waker
    if old.slot == .max || old == waker { return nil }
    bounces = waker == replaced ? bounces &+ 1 : 0
    replaced = old
    assert(
      bounces < Self.bounceLimit,
      "WakerRegistration.register: two tasks wait on one Signal, Channel side, registration or join and wake each other forever; give each its own"
    )
    return old
  }

  /// Wakes and forgets the registered task; returns it (nil when none).
  @discardableResult
  public mutating func wake<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Waker? {
    let old = stored
    if old.slot == .max { return nil }
    stored = Self.none
    // The count feeds only `register`'s debug-build assertion; a release build skips the store.
    if _isDebugAssertConfiguration() { bounces = 0 }
    cx.wake(old)
    return old
  }

  /// Forgets and returns the registered task without waking it, for a waker outside a poll
  /// (pass it to `Executor.wake`).
  public mutating func take() -> Waker? {
    defer {
      stored = Self.none
      bounces = 0
    }
    return waker
  }
}

/// A latest-value mailbox: `signal` stores a value (replacing an unread one) and wakes the
/// waiter; `wait` takes it. `Signal<Void>` is a notify.
///
/// One value and one waiting task (a second waiter replaces and wakes the first, so two waiters
/// on one side wake each other on every poll: give each waiter its own signal). Never blocks or allocates.
public struct Signal<Value>: ~Copyable {
  private var value: Value?
  private var waiter = WakerRegistration()
  /// Values replaced before they were read.
  public private(set) var overwritten: UInt64 = 0

  /// An empty signal.
  public init() {}

  /// Whether a value waits to be taken.
  public var isSignaled: Bool { value != nil }

  /// Stores `value` and wakes the waiting task.
  public mutating func signal<S: Scheduler & ~Copyable>(_ value: Value, _ cx: inout Context<S>) {
    store(value)
    waiter.wake(&cx)
  }

  /// Stores `value` from outside a poll; returns the task to wake (e.g. with `Executor.wake`).
  public mutating func signal(_ value: Value) -> Waker? {
    store(value)
    return waiter.take()
  }

  /// Takes the value, or registers the task and returns `.pending`.
  public mutating func wait<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Poll<Value> {
    if let v = value {
      value = nil
      return .ready(v)
    }
    waiter.register(&cx)
    return .pending
  }

  private mutating func store(_ new: Value) {
    if value != nil { overwritten += 1 }
    value = new
  }
}

/// A FIFO of up to `capacity` elements between tasks, with one waiting receiver and one
/// waiting sender at a time (a second registers in place of the first, which is woken).
///
/// `capacity` elements stored inline; full is `CapacityError.channel` or a wait, never growth.
/// Never blocks or allocates. One receiver and one sender task at a time (see `Signal`).
public struct Channel<let capacity: Int, Element>: ~Copyable {
  private var ring = Ring<capacity, Element?>(repeating: nil)
  /// Elements queued.
  public var count: Int { ring.count }
  private var receiver = WakerRegistration()
  private var sender = WakerRegistration()

  /// An empty channel.
  public init() { precondition(capacity > 0, "Channel.init: capacity must be positive") }

  /// Whether no element is queued.
  public var isEmpty: Bool { ring.isEmpty }
  /// Whether `capacity` elements are queued.
  public var isFull: Bool { ring.isFull }

  /// Appends `element` and wakes the receiver; throws `.channel` when full.
  public mutating func trySend<S: Scheduler & ~Copyable>(_ element: Element, _ cx: inout Context<S>)
    throws(CapacityError)
  {
    try push(element)
    receiver.wake(&cx)
  }

  /// Appends `element` from outside a poll; returns the receiver to wake.
  public mutating func trySend(_ element: Element) throws(CapacityError) -> Waker? {
    try push(element)
    return receiver.take()
  }

  /// `.ready` once `element` is queued; `.pending` while full (keep the element, poll again).
  public mutating func send<S: Scheduler & ~Copyable>(_ element: Element, _ cx: inout Context<S>)
    -> Poll<Void>
  {
    if isFull {
      sender.register(&cx)
      return .pending
    }
    try! push(element)  // Not full: checked above.
    receiver.wake(&cx)
    return .ready(())
  }

  /// Takes the oldest element and wakes a waiting sender, or waits.
  public mutating func receive<S: Scheduler & ~Copyable>(_ cx: inout Context<S>) -> Poll<Element> {
    guard let element = pop() else {
      receiver.register(&cx)
      return .pending
    }
    sender.wake(&cx)
    return .ready(element)
  }

  /// Takes the oldest element without waiting (outside a poll: wakes nobody).
  public mutating func tryReceive() -> Element? { pop() }

  private mutating func push(_ element: Element) throws(CapacityError) {
    if !ring.push(element) { throw .channel }
  }

  /// The oldest element, its slot left empty so the channel holds no copy of it.
  private mutating func pop() -> Element? { ring.pop(leaving: nil) ?? nil }
}
