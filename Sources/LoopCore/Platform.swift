// The seam between the core and the operating system (or a test's virtual world): a clock and
// one blocking call. Embassy's whole platform is the same two ideas: a time driver and a pender.

/// How long `Platform.wait` may block.
public enum WaitLimit: Equatable, Sendable {
  /// Do not block: collect what is already pending and return.
  case poll
  /// Block until `Instant` on the platform's clock, or until an interrupt fires.
  case deadline(Instant)
  /// Block until an interrupt fires (no timer is due).
  case forever
}

/// What the executor needs from the world it runs in.
///
/// The Linux platform implements it with one `epoll_wait` and one timerfd; the virtual platform
/// in `LoopTesting` with a clock that moves only when a test advances it.
public protocol Platform: ~Copyable {
  /// The current time on the monotonic clock.
  mutating func now() -> Instant

  /// Blocks as `limit` allows, then adds every interrupt line that fired to `raised`.
  ///
  /// Returning early (nothing fired, deadline not reached) is allowed: the executor re-checks
  /// timers and waits again.
  mutating func wait(_ limit: WaitLimit, raised: inout InterruptSet)
}
