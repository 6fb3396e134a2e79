// Waiting for several things at once inside one poll: the first of two or three (`select`),
// all of them (`Join2`, `Join3`), or something with a deadline (`Timeout`). Each operand is a
// non-escaping closure that polls one thing, so operands can reach the task's own state and the
// world without being stored anywhere.

/// Which of two operands finished first.
public enum Either<A, B> {
  /// The first operand, with its result.
  case first(A)
  /// The second operand, with its result.
  case second(B)
}

/// Which of three operands finished first.
public enum OneOf3<A, B, C> {
  /// The first operand, with its result.
  case first(A)
  /// The second operand, with its result.
  case second(B)
  /// The third operand, with its result.
  case third(C)
}

/// Polls `a` then `b`; the first ready wins (`a` when both are). Both register their wakers, so
/// the task wakes for whichever comes first. Stores nothing; never blocks or allocates.
public func select<S: Scheduler & ~Copyable, A, B>(
  _ cx: inout Context<S>,
  _ a: (inout Context<S>) -> Poll<A>,
  _ b: (inout Context<S>) -> Poll<B>
) -> Poll<Either<A, B>> {
  if case .ready(let value) = a(&cx) { return .ready(.first(value)) }
  if case .ready(let value) = b(&cx) { return .ready(.second(value)) }
  return .pending
}

/// Polls `a`, `b`, then `c`; the first ready wins.
public func select<S: Scheduler & ~Copyable, A, B, C>(
  _ cx: inout Context<S>,
  _ a: (inout Context<S>) -> Poll<A>,
  _ b: (inout Context<S>) -> Poll<B>,
  _ c: (inout Context<S>) -> Poll<C>
) -> Poll<OneOf3<A, B, C>> {
  if case .ready(let value) = a(&cx) { return .ready(.first(value)) }
  if case .ready(let value) = b(&cx) { return .ready(.second(value)) }
  if case .ready(let value) = c(&cx) { return .ready(.third(value)) }
  return .pending
}

/// Waits for two operands, keeping each result until the other is ready too.
/// Operands already finished are not polled again.
///
/// Stores the finished results inline; never blocks or allocates.
public struct Join2<A, B> {
  private var a: A?
  private var b: B?

  /// Nothing finished yet.
  public init() {}

  /// `.ready` with both results once both operands have finished (then resets).
  public mutating func poll<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>,
    _ pollA: (inout Context<S>) -> Poll<A>,
    _ pollB: (inout Context<S>) -> Poll<B>
  ) -> Poll<(A, B)> {
    if a == nil, case .ready(let value) = pollA(&cx) { a = value }
    if b == nil, case .ready(let value) = pollB(&cx) { b = value }
    guard let doneA = a, let doneB = b else { return .pending }
    a = nil
    b = nil
    return .ready((doneA, doneB))
  }
}

/// Waits for three operands; see `Join2`.
public struct Join3<A, B, C> {
  private var a: A?
  private var b: B?
  private var c: C?

  /// Nothing finished yet.
  public init() {}

  /// `.ready` with all three results once all have finished (then resets).
  public mutating func poll<S: Scheduler & ~Copyable>(
    _ cx: inout Context<S>,
    _ pollA: (inout Context<S>) -> Poll<A>,
    _ pollB: (inout Context<S>) -> Poll<B>,
    _ pollC: (inout Context<S>) -> Poll<C>
  ) -> Poll<(A, B, C)> {
    if a == nil, case .ready(let value) = pollA(&cx) { a = value }
    if b == nil, case .ready(let value) = pollB(&cx) { b = value }
    if c == nil, case .ready(let value) = pollC(&cx) { c = value }
    guard let doneA = a, let doneB = b, let doneC = c else { return .pending }
    a = nil
    b = nil
    c = nil
    return .ready((doneA, doneB, doneC))
  }
}

/// The deadline of an operation passed before it finished.
public struct TimedOut: Error, Equatable, Sendable {
  /// The deadline that passed.
  public var deadline: Instant
}

/// A deadline for an operation that may take too long.
///
/// Uses the task's one timer (the earliest of a poll's deadlines wins); never blocks or allocates.
public struct Timeout: Equatable, Sendable {
  /// When the operation gives up.
  public let deadline: Instant

  /// A timeout at `deadline`.
  public init(deadline: Instant) { self.deadline = deadline }

  /// A timeout `duration` after now.
  public init<S: Scheduler & ~Copyable>(after duration: Duration, _ cx: inout Context<S>) {
    deadline = cx.now + duration
  }

  /// Polls `operation`; `.ready(.success)` if it finished, `.ready(.failure)` once the deadline
  /// has passed, `.pending` otherwise (with the task's timer armed for the deadline).
  public func poll<S: Scheduler & ~Copyable, T>(
    _ cx: inout Context<S>, _ operation: (inout Context<S>) -> Poll<T>
  ) throws(CapacityError) -> Poll<Result<T, TimedOut>> {
    if case .ready(let value) = operation(&cx) { return .ready(.success(value)) }
    if case .ready = try cx.sleep(until: deadline) { return .ready(.failure(TimedOut(deadline: deadline))) }
    return .pending
  }
}
